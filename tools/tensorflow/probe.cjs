// Child-process check used by tools/setup-tensorflow: does this tfjs-node(-gpu) package load as
// the `tensorflow` backend, and does a conv2d weight gradient on it agree with the reference `cpu`
// backend? It runs in its own process because a broken native addon can abort the whole process
// (a missing symbol or library), which must never take the installer down with it.
//
// Usage: node tools/tensorflow/probe.cjs <absolute path of the tfjs-node(-gpu) package folder>
// Prints one JSON line on stdout: {"ok":true,...} or {"ok":false,"error":"..."}; exit 0 / 1.
'use strict';

const pkgDir = process.argv[2];

function report(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = result.ok ? 0 : 1;
}

async function main() {
  if (!pkgDir) throw new Error('usage: probe.cjs <tfjs-node package folder>');
  const t0 = Date.now();
  // Requiring the package loads the addon and registers + selects the `tensorflow` backend.
  const tf = require(pkgDir);
  const loadMs = Date.now() - t0;
  const backend = tf.getBackend();
  if (backend !== 'tensorflow') {
    throw new Error(`package loaded but the active backend is '${backend}', expected 'tensorflow'`);
  }
  const usingGpu = Boolean(tf.backend().isUsingGpuDevice);

  // A small conv2d whose weight gradient (Conv2DBackpropFilter, the kernel the wasm backend lacks)
  // is compared against tfjs' pure-JS `cpu` backend on the same numbers.
  const x = tf.randomUniform([2, 9, 9, 3], -1, 1, 'float32', 7).arraySync();
  const w = tf.randomUniform([3, 3, 3, 4], -1, 1, 'float32', 8).arraySync();
  const gradOn = async (name) => {
    await tf.setBackend(name);
    return tf.tidy(() => {
      const xs = tf.tensor4d(x);
      const loss = (wt) => tf.conv2d(xs, wt, [2, 2], 'same').square().mean();
      return tf.grad(loss)(tf.tensor4d(w)).arraySync();
    });
  };
  const gTf = (await gradOn('tensorflow')).flat(3);
  const gCpu = (await gradOn('cpu')).flat(3);
  await tf.setBackend('tensorflow');
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < gCpu.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(gTf[i] - gCpu[i]));
    maxAbs = Math.max(maxAbs, Math.abs(gCpu[i]));
  }
  if (!(maxAbs > 0) || !(maxDiff <= 1e-4 * Math.max(1, maxAbs))) {
    throw new Error(`conv2d weight gradient differs from the cpu backend: max |diff| ${maxDiff} (max |g| ${maxAbs})`);
  }
  report({
    ok: true,
    package: require(pkgDir + '/package.json').name,
    tfjsVersion: tf.version.tfjs,
    usingGpu,
    loadMs,
    gradMaxDiff: maxDiff,
  });
}

main().catch((err) => report({ ok: false, error: String((err && err.message) || err).split('\n')[0] }));
