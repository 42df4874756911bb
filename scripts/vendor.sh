#!/usr/bin/env bash
# Browser libraries from npm into the package's static files (fabserver/web/static/vendor/):
# three.js and the two example modules the 3D view uses, at the version pinned in
# web-vendor/package-lock.json. Pages allow only their own scripts (CSP script-src 'self'),
# so there is no CDN; the examples' bare `from 'three'` is pointed at the copied file.
# Without npm the pages work and the 3D view says it is unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."
target=fabserver/web/static/vendor
stamp=$target/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt web-vendor/package-lock.json ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm not found: the 3D view of meshes is off. Install npm, then run: make vendor" >&2
  exit 0
fi
(cd web-vendor && npm ci --no-audit --no-fund --silent)
three=web-vendor/node_modules/three
mkdir -p "$target"
cp "$three/build/three.module.min.js" "$target/"
for module in controls/OrbitControls.js loaders/STLLoader.js; do
  sed "s#from 'three'#from './three.module.min.js'#" "$three/examples/jsm/$module" \
    > "$target/$(basename "$module")"
done
cp "$three/LICENSE" "$target/LICENSE-three.txt"
touch "$stamp"
