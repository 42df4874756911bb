// The 3D view of a mesh quote: the model placed as it will print (centred on the bed,
// resting on it), the chosen machine's bed outline, orbit with the mouse or a finger.
// three.js comes from npm into static/vendor/ (`make vendor`); without it the view says so.
const VENDOR = new URL("./vendor/", import.meta.url);

export function start(box) {
  const api = { bed() {} };
  Promise.all([
    import(new URL("three.module.min.js", VENDOR)),
    import(new URL("OrbitControls.js", VENDOR)),
    import(new URL("STLLoader.js", VENDOR)),
  ])
    .then(([THREE, orbit, stl]) => show(box, api, THREE, orbit.OrbitControls, stl.STLLoader))
    .catch(() => unavailable(box));
  return api;
}

function unavailable(box) {
  box.dataset.ready = "unavailable";
  const p = document.createElement("p");
  p.className = "hint";
  p.textContent = box.dataset.unavailable || "";
  box.replaceChildren(p);
}

function show(box, api, THREE, OrbitControls, STLLoader) {
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true });
  } catch (e) {
    unavailable(box);
    return;
  }
  const width = () => box.clientWidth || 320;
  const height = () => Math.round(width() * 0.75);
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.setSize(width(), height());
  box.replaceChildren(renderer.domElement);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xf4f5f7);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x8899aa, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.5);
  sun.position.set(1, -1, 2);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(40, width() / height(), 1, 10000);
  camera.up.set(0, 0, 1);
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.enableDamping = true;
  let bed = null;
  let model = null;
  let area = [200, 200, 200];

  const place = () => {
    if (bed) scene.remove(bed);
    const [x, y] = area;
    const outline = new THREE.BufferGeometry().setFromPoints(
      [[0, 0], [x, 0], [x, y], [0, y], [0, 0]].map(([a, b]) => new THREE.Vector3(a, b, 0))
    );
    bed = new THREE.Group();
    bed.add(new THREE.Line(outline, new THREE.LineBasicMaterial({ color: 0x1f4e8c })));
    const plate = new THREE.Mesh(
      new THREE.PlaneGeometry(x, y),
      new THREE.MeshBasicMaterial({ color: 0xdde3ea, transparent: true, opacity: 0.6 })
    );
    plate.position.set(x / 2, y / 2, -0.01);
    bed.add(plate);
    scene.add(bed);
    box.dataset.bed = `${x}x${y}`;
    if (model) {
      model.geometry.computeBoundingBox();
      const b = model.geometry.boundingBox;
      model.position.set(x / 2 - (b.min.x + b.max.x) / 2, y / 2 - (b.min.y + b.max.y) / 2, -b.min.z);
    }
    const reach = Math.max(x, y, area[2] || 0);
    camera.position.set(x / 2, -reach * 0.9, reach * 0.9);
    controls.target.set(x / 2, y / 2, 0);
    controls.update();
  };

  api.bed = (workArea) => {
    if (workArea) area = workArea;
    place();
  };

  new STLLoader().load(box.dataset.modelUrl, (geometry) => {
    geometry.computeVertexNormals();
    model = new THREE.Mesh(geometry, new THREE.MeshStandardMaterial({ color: 0xe07a1f, metalness: 0.1, roughness: 0.7 }));
    scene.add(model);
    place();
    box.dataset.triangles = String(geometry.attributes.position.count / 3);
    box.dataset.ready = "1";
  }, undefined, () => unavailable(box));

  const loop = () => {
    controls.update();
    renderer.render(scene, camera);
    requestAnimationFrame(loop);
  };
  loop();
  window.addEventListener("resize", () => {
    renderer.setSize(width(), height());
    camera.aspect = width() / height();
    camera.updateProjectionMatrix();
  });
}
