// tools/setup-tensorflow's body: give this machine the fast `tensorflow` tfjs backend.
//
// @tensorflow/tfjs-node(-gpu)'s own install script downloads libtensorflow 2.9.1 from a storage
// host that is unreachable here (and answers 403 upstream, tfjs issue #8742), so the root
// package.json denies that script and this file does the job from PyPI instead:
//   1. keep a working addon if there is one (checked in a child process: loads + conv2d gradient);
//   2. otherwise `pip download` the hash-pinned TensorFlow wheel (tools/tensorflow/wheels.json)
//      into ~/.cache/pixel-bert, check its sha256, take libtensorflow_cc.so.2 +
//      libtensorflow_framework.so.2 + the C API headers out of it (cached, extracted once);
//   3. lay them out as the package's deps/ and build the addon with node-pre-gyp (or reuse an
//      addon this cache built before for the same wheel, package and Node ABI);
//   4. check it again in a child process and print one line naming the backend this machine uses.
// Any failure is reported with its reason and leaves the package without an addon, so the model's
// backend chooser falls back to wasm. Only with --require does a failure exit non-zero.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const TAG = '[setup-tensorflow]';
const WHEELS = JSON.parse(fs.readFileSync(path.join(HERE, 'wheels.json'), 'utf8'));

// Headers the addon's two source files include (found with `g++ -MM`); the wheel ships 13 000
// headers (268 MB), these few are all binding/tfjs_backend.cc and tfjs_binding.cc need.
const HEADER_PREFIXES = [
  'tensorflow/include/tensorflow/c/',
  'tensorflow/include/tensorflow/core/platform/ctstring',
  'tensorflow/include/tsl/platform/ctstring',
  'tensorflow/include/xla/tsl/c/',
];
const LIBS = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];

const HELP = `usage: tools/setup-tensorflow [--gpu] [--force] [--require] [--check]

Builds @tensorflow/tfjs-node's native addon against the libtensorflow in PyPI's TensorFlow wheel
so that tfjs can use the fast 'tensorflow' backend. Runs from the root package's postinstall.

  --gpu      GPU route: tensorflow (CUDA build) wheel + CUDA 12 nvidia-* wheels into
             @tensorflow/tfjs-node-gpu (also PIXEL_BERT_TF_GPU=1). Falls back to the CPU route.
  --force    rebuild even if a working addon is present
  --require  exit 1 if the tensorflow backend is not working at the end (for CI;
             also PIXEL_BERT_TF_REQUIRE=1). Without it, failures exit 0 and leave wasm.
  --check    only report which backend works now; build nothing

Environment: PIXEL_BERT_SKIP_TF_SETUP=1 skips everything; PIXEL_BERT_CACHE (default
\${XDG_CACHE_HOME:-~/.cache}/pixel-bert) holds the wheels, the extracted libraries and built addons.`;

class SetupError extends Error {}

const log = (msg) => console.log(`${TAG} ${msg}`);
const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

function cacheRoot() {
  if (process.env.PIXEL_BERT_CACHE) return path.resolve(process.env.PIXEL_BERT_CACHE);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'pixel-bert');
}

/** Folder of an installed package, resolved the way packages/model resolves it (one tfjs copy). */
function packageDir(name) {
  const req = createRequire(path.join(ROOT, 'packages', 'model', 'package.json'));
  try {
    return path.dirname(req.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

function addonPath(pkgDir) {
  // node-pre-gyp's own lookup (the one tfjs-node's index.js uses): it picks the N-API version
  // from the package's napi_versions, which need not be process.versions.napi.
  const preGyp = createRequire(path.join(pkgDir, 'package.json'))('@mapbox/node-pre-gyp');
  return preGyp.find(path.join(pkgDir, 'package.json'));
}

/** Loads the package in a child process and checks a conv2d gradient (tools/tensorflow/probe.cjs). */
function probe(pkgDir) {
  const r = spawnSync(process.execPath, [path.join(HERE, 'probe.cjs'), pkgDir], {
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
  });
  const last = (r.stdout || '').trim().split('\n').pop() || '';
  try {
    const parsed = JSON.parse(last);
    if (parsed && typeof parsed.ok === 'boolean') return parsed;
  } catch {
    /* fall through: the child died before printing its verdict */
  }
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  const stderr = (r.stderr || '').trim().split('\n').slice(-3).join(' | ');
  return { ok: false, error: `probe process failed (${why})${stderr ? `: ${stderr}` : ''}` };
}

function run(cmd, args, { cwd, env, logFile, timeoutMs, what }) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  const out = `$ ${cmd} ${args.join(' ')}\n${r.stdout || ''}${r.stderr || ''}`;
  if (logFile) fs.appendFileSync(logFile, out + '\n');
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    const tail = out.trim().split('\n').slice(-12).map((l) => `    ${l}`).join('\n');
    throw new SetupError(`${what} failed (${why})${logFile ? `; full log: ${logFile}` : ''}\n${tail}`);
  }
  return r.stdout || '';
}

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return null;
}

function sha256(file) {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  try {
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function findPython() {
  for (const cand of ['python3', 'python']) {
    const r = spawnSync(cand, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return cand;
  }
  throw new SetupError('no python3 with pip found on PATH (pip downloads the TensorFlow wheel from PyPI)');
}

function checkPlatform() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new SetupError(
      `no pinned TensorFlow wheel for ${process.platform}-${process.arch}: this route covers linux-x64 only`,
    );
  }
  const glibc = process.report?.getReport()?.header?.glibcVersionRuntime;
  if (!glibc) throw new SetupError('not a glibc Linux (the manylinux_2_27 wheel needs glibc >= 2.27)');
  const [maj, min] = glibc.split('.').map(Number);
  if (maj < 2 || (maj === 2 && min < 27)) {
    throw new SetupError(`glibc ${glibc} is older than the 2.27 the manylinux_2_27 wheel needs`);
  }
}

/** Makes sure every wheel is in the cache with PyPI's sha256; downloads the missing ones with pip. */
function ensureWheels(wheels, cache, logFile) {
  const dir = path.join(cache, 'wheels');
  fs.mkdirSync(dir, { recursive: true });
  const missing = [];
  for (const w of wheels) {
    const file = path.join(dir, w.file);
    if (fs.existsSync(file)) {
      if (sha256(file) === w.sha256) continue;
      log(`cached ${w.file} has the wrong sha256; downloading it again`);
      fs.rmSync(file, { force: true });
    }
    missing.push(w);
  }
  if (missing.length > 0) {
    const python = findPython();
    // pip verifies every file against --hash (--require-hashes); it downloads into a private
    // folder that is renamed into the cache only when complete, so a concurrent or interrupted
    // install never sees half a wheel.
    const tmp = fs.mkdtempSync(path.join(dir, '.download-'));
    try {
      const req = path.join(tmp, 'requirements.txt');
      fs.writeFileSync(req, missing.map((w) => `${w.name}==${w.version} --hash=sha256:${w.sha256}\n`).join(''));
      log(`downloading ${missing.map((w) => `${w.name}==${w.version}`).join(', ')} from PyPI with pip into ${dir}`);
      const t0 = Date.now();
      // --platform/--python-version pin the one wheel file whose hash is listed, whatever the
      // local Python is: only its C libraries are used.
      run(
        python,
        [
          '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--require-hashes',
          '--platform', WHEELS.platform, '--platform', 'manylinux2014_x86_64',
          '--python-version', WHEELS.pythonTag, '--progress-bar', 'off', '-d', tmp, '-r', req,
        ],
        { logFile, timeoutMs: 30 * 60_000, what: 'pip download' },
      );
      for (const w of missing) {
        const got = path.join(tmp, w.file);
        if (!fs.existsSync(got)) throw new SetupError(`pip did not produce ${w.file} (see ${logFile})`);
        const digest = sha256(got);
        if (digest !== w.sha256) {
          throw new SetupError(`${w.file}: sha256 ${digest} is not PyPI's ${w.sha256}`);
        }
        fs.renameSync(got, path.join(dir, w.file));
      }
      log(`downloaded and verified ${missing.length} wheel(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  return wheels.map((w) => path.join(dir, w.file));
}

/**
 * Extracts the libraries and headers once per wheel into the cache, in the layout the addon's
 * binding.gyp expects: lib/ (linked with -ltensorflow -ltensorflow_framework), include/ and,
 * for the GPU route, nvidia/<lib>/lib/ — the wheel's libtensorflow_framework.so.2 has a RUNPATH of
 * $ORIGIN/../nvidia/<lib>/lib, so the CUDA libraries are found there without LD_LIBRARY_PATH.
 */
function ensureExtracted(variant, spec, wheelFiles, cache, logFile) {
  const key = `${variant}-${spec.tensorflow.name}-${spec.tensorflow.version}-${spec.tensorflow.sha256.slice(0, 12)}`;
  const dest = path.join(cache, 'extracted', key);
  if (fs.existsSync(path.join(dest, 'COMPLETE'))) return dest;
  const python = findPython();
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = fs.mkdtempSync(`${dest}.tmp-`);
  try {
    const [tfWheel, ...cudaWheels] = wheelFiles;
    log(`extracting libtensorflow and the C API headers from ${path.basename(tfWheel)}`);
    const extract = path.join(HERE, 'extract.py');
    run(python, [extract, tfWheel, path.join(tmp, 'wheel'), ...LIBS, ...HEADER_PREFIXES], {
      logFile, timeoutMs: 10 * 60_000, what: 'extracting the TensorFlow wheel',
    });
    fs.mkdirSync(path.join(tmp, 'lib'));
    for (const lib of LIBS) fs.renameSync(path.join(tmp, 'wheel', lib), path.join(tmp, 'lib', path.basename(lib)));
    fs.renameSync(path.join(tmp, 'wheel', 'tensorflow', 'include'), path.join(tmp, 'include'));
    fs.rmSync(path.join(tmp, 'wheel'), { recursive: true, force: true });
    // The wheel's library carries the SONAME libtensorflow_cc.so.2; the linker resolves
    // -ltensorflow through this link and records that SONAME, which is the file present at run time.
    fs.symlinkSync('libtensorflow_cc.so.2', path.join(tmp, 'lib', 'libtensorflow.so'));
    fs.symlinkSync('libtensorflow_framework.so.2', path.join(tmp, 'lib', 'libtensorflow_framework.so'));
    for (const whl of cudaWheels) {
      log(`extracting ${path.basename(whl)}`);
      run(python, [extract, whl, tmp, 'nvidia/'], { logFile, timeoutMs: 10 * 60_000, what: `extracting ${whl}` });
    }
    fs.writeFileSync(
      path.join(tmp, 'SOURCE.json'),
      JSON.stringify({ tensorflow: spec.tensorflow, cuda: spec.cuda.map((w) => `${w.name}==${w.version}`) }, null, 2) + '\n',
    );
    fs.writeFileSync(path.join(tmp, 'COMPLETE'), new Date().toISOString() + '\n');
    try {
      fs.renameSync(tmp, dest);
    } catch (err) {
      // Another install finished the same extraction first: use theirs.
      if (!fs.existsSync(path.join(dest, 'COMPLETE'))) throw err;
    }
    return dest;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Copies a tree, hard-linking files where the file system allows (the GPU libraries are ~3 GB). */
function linkTree(src, dst) {
  fs.mkdirSync(dst, { recursive: true });
  for (const ent of fs.readdirSync(src, { withFileTypes: true })) {
    const s = path.join(src, ent.name);
    const d = path.join(dst, ent.name);
    if (ent.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(s), d);
    else if (ent.isDirectory()) linkTree(s, d);
    else {
      try {
        fs.linkSync(s, d);
      } catch {
        fs.copyFileSync(s, d);
      }
    }
  }
}

/** Removes what this script puts into the package, so a failed attempt leaves no broken addon. */
function cleanPackage(pkgDir) {
  for (const sub of ['deps', 'lib']) fs.rmSync(path.join(pkgDir, sub), { recursive: true, force: true });
  removeBuildDirs(pkgDir);
}

/** node-gyp's object files (build/, and node-pre-gyp's build-tmp-napi-v*) are not needed at run time. */
function removeBuildDirs(pkgDir) {
  for (const ent of fs.readdirSync(pkgDir)) {
    if (ent === 'build' || ent.startsWith('build-tmp-')) fs.rmSync(path.join(pkgDir, ent), { recursive: true, force: true });
  }
}

function nodeGypBin() {
  const cands = [];
  if (process.env.npm_config_node_gyp) cands.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    cands.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = path.dirname(path.dirname(process.execPath));
  cands.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  let found = cands.find((c) => fs.existsSync(c));
  if (!found) {
    const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
    if (npmRoot.status === 0) cands.push(path.join(npmRoot.stdout.trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    found = cands.find((c) => fs.existsSync(c));
  }
  if (!found) throw new SetupError(`node-gyp not found (looked in: ${cands.join(', ')}); it ships with npm`);
  return found;
}

function nodeHeadersDir() {
  // node-gyp would otherwise download the headers from nodejs.org, which may be unreachable.
  const cands = [process.env.npm_config_nodedir, path.dirname(path.dirname(process.execPath)), '/usr', '/usr/local'];
  for (const dir of cands) {
    if (dir && fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi'))) {
      return dir;
    }
  }
  throw new SetupError(
    `Node's C headers (include/node/node_api.h and common.gypi) are not in ${cands.filter(Boolean).join(', ')}; ` +
      'install them (Debian: the nodejs package from NodeSource ships them; or set npm_config_nodedir)',
  );
}

function build(pkgDir, logFile) {
  for (const tool of ['make', 'g++']) {
    if (!which(tool)) throw new SetupError(`'${tool}' is not on PATH (Debian: apt-get install build-essential)`);
  }
  const nodedir = nodeHeadersDir();
  const gyp = nodeGypBin();
  const preGyp = createRequire(path.join(pkgDir, 'package.json')).resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp');
  log(`building the addon (node-pre-gyp, Node headers from ${nodedir}); log: ${logFile}`);
  const t0 = Date.now();
  run(process.execPath, [preGyp, 'install', '--build-from-source'], {
    cwd: pkgDir,
    env: { ...process.env, npm_config_nodedir: nodedir, npm_config_node_gyp: gyp, JOBS: String(os.cpus().length) },
    logFile,
    timeoutMs: 15 * 60_000,
    what: 'building the addon',
  });
  log(`addon built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

function describe(result, source) {
  const where = result.usingGpu ? 'on the GPU' : 'on the CPU';
  const from = source ? `libtensorflow from PyPI ${source.tensorflow.name} ${source.tensorflow.version}` : 'its own libtensorflow';
  return `tensorflow (${result.package} for tfjs ${result.tfjsVersion}, ${from}, ${where}; conv2d gradient matches the cpu backend)`;
}

function readSource(pkgDir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(pkgDir, 'deps', 'SOURCE.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** One route (cpu or gpu): returns a description of the working backend, or throws SetupError. */
function setUp(variant, { force, cache, logDir }) {
  const spec = WHEELS[variant];
  const pkgDir = packageDir(spec.package);
  if (!pkgDir) throw new SetupError(`${spec.package} is not installed (it is a dependency of packages/model)`);
  const addon = addonPath(pkgDir);

  if (!force && fs.existsSync(addon)) {
    const res = probe(pkgDir);
    if (res.ok) return { res, kept: true, source: readSource(pkgDir) };
    log(`the existing ${spec.package} addon does not work (${res.error}); rebuilding it`);
  }

  checkPlatform();
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${variant}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const wheelFiles = ensureWheels([spec.tensorflow, ...spec.cuda], cache, logFile);
  const extracted = ensureExtracted(variant, spec, wheelFiles, cache, logFile);

  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const addonKey = [
    pkg.name.replace(/[@/]/g, '_'), pkg.version, spec.tensorflow.sha256.slice(0, 12),
    path.basename(path.dirname(addon)), `abi${process.versions.modules}`, process.platform, process.arch,
  ].join('-');
  const cachedAddon = path.join(cache, 'addons', `${addonKey}.node`);

  cleanPackage(pkgDir);
  try {
    linkTree(extracted, path.join(pkgDir, 'deps'));
    if (fs.existsSync(cachedAddon)) {
      fs.mkdirSync(path.dirname(addon), { recursive: true });
      fs.copyFileSync(cachedAddon, addon);
      const res = probe(pkgDir);
      if (res.ok) return { res, kept: false, reused: cachedAddon, source: readSource(pkgDir) };
      log(`the cached addon ${cachedAddon} does not work here (${res.error}); building a new one`);
      fs.rmSync(path.join(pkgDir, 'lib'), { recursive: true, force: true });
    }
    build(pkgDir, logFile);
    const res = probe(pkgDir);
    if (!res.ok) throw new SetupError(`the freshly built addon does not work: ${res.error}`);
    fs.mkdirSync(path.dirname(cachedAddon), { recursive: true });
    const tmp = `${cachedAddon}.tmp-${process.pid}`;
    fs.copyFileSync(addon, tmp);
    fs.renameSync(tmp, cachedAddon);
    removeBuildDirs(pkgDir);
    return { res, kept: false, source: readSource(pkgDir) };
  } catch (err) {
    cleanPackage(pkgDir);
    throw err;
  }
}

/**
 * The addon registers its backend with the @tensorflow/tfjs-core that tfjs-node resolves; the model
 * package must resolve the same file, or its tfjs never sees the `tensorflow` backend.
 */
function warnIfTwoTfjsCores(pkgName) {
  try {
    const fromModel = createRequire(path.join(ROOT, 'packages', 'model', 'package.json')).resolve('@tensorflow/tfjs-core');
    const fromPkg = createRequire(path.join(packageDir(pkgName), 'package.json')).resolve('@tensorflow/tfjs-core');
    if (fromModel !== fromPkg) {
      log(`WARNING: two copies of @tensorflow/tfjs-core (${fromModel} and ${fromPkg}): the model package ` +
        'will not see the tensorflow backend; align the @tensorflow/* versions and run `npm dedupe`');
    }
  } catch (err) {
    log(`WARNING: could not check for duplicate @tensorflow/tfjs-core: ${err.message}`);
  }
}

function gpuNote(res) {
  if (res.usingGpu) return null;
  const driver = fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidiactl');
  return driver
    ? 'GPU build loaded but TensorFlow found no usable GPU (driver too old for CUDA 12.5, or no device visible): it runs on the CPU'
    : 'GPU build loaded, but this machine has no NVIDIA driver/GPU: it runs on the CPU';
}

export async function main(argv) {
  const flags = new Set(argv);
  for (const f of flags) {
    if (!['--gpu', '--force', '--require', '--check', '--help', '-h'].includes(f)) {
      console.error(`${TAG} unknown option '${f}'\n${HELP}`);
      return 2;
    }
  }
  if (flags.has('--help') || flags.has('-h')) {
    console.log(HELP);
    return 0;
  }
  const require = flags.has('--require') || truthy(process.env.PIXEL_BERT_TF_REQUIRE);
  if (truthy(process.env.PIXEL_BERT_SKIP_TF_SETUP)) {
    log('skipped (PIXEL_BERT_SKIP_TF_SETUP is set); tfjs will use the wasm backend unless an addon was built before');
    return 0;
  }
  const gpu = flags.has('--gpu') || truthy(process.env.PIXEL_BERT_TF_GPU);
  const cache = cacheRoot();
  const opts = { force: flags.has('--force'), cache, logDir: path.join(cache, 'logs') };

  if (flags.has('--check')) {
    for (const variant of ['gpu', 'cpu']) {
      const dir = packageDir(WHEELS[variant].package);
      if (!dir || !fs.existsSync(addonPath(dir))) continue;
      const res = probe(dir);
      if (res.ok) {
        log(`backend for this machine: ${describe(res, readSource(dir))}`);
        return 0;
      }
      log(`${WHEELS[variant].package} is present but does not work: ${res.error}`);
    }
    log('backend for this machine: wasm (no working tensorflow addon; run tools/setup-tensorflow)');
    return require ? 1 : 0;
  }

  const failures = [];
  for (const variant of gpu ? ['gpu', 'cpu'] : ['cpu']) {
    try {
      const t0 = Date.now();
      const out = setUp(variant, opts);
      const how = out.kept ? 'kept the existing addon' : out.reused ? 'reused a cached addon' : 'built the addon';
      if (variant === 'gpu') {
        const note = gpuNote(out.res);
        if (note) log(note);
      }
      log(`${how} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      warnIfTwoTfjsCores(WHEELS[variant].package);
      log(`backend for this machine: ${describe(out.res, out.source)}`);
      return 0;
    } catch (err) {
      // A SetupError is an expected, explained failure; anything else (e.g. EACCES on the cache,
      // ENOSPC while extracting) is reported with its stack but handled the same way.
      const msg = err instanceof SetupError ? err.message : `unexpected ${err?.stack ?? err}`;
      failures.push(`${WHEELS[variant].package}: ${msg}`);
      if (variant === 'gpu') log(`GPU route failed, trying the CPU route: ${err.message}`);
    }
  }
  log(`the tensorflow backend could not be set up:\n  ${failures.join('\n  ')}`);
  log('backend for this machine: wasm (slower; fix the reason above and run tools/setup-tensorflow)');
  return require ? 1 : 0;
}
