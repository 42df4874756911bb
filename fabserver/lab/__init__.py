"""Running the lab as a whole: a maker's history, reports, stock and offcuts, e-mails.

These modules read and write the database (unlike the core), and are called by
the job service, the queue's tasks and the web layer.
"""
