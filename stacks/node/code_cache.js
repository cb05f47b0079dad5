'use strict';
/**
 * V8 code cache for the packages the jsii kernel loads (preloaded with `node --require`).
 *
 * jsii extracts each package into a fresh /tmp/jsii-kernel-XXXX directory per run, as hard
 * links into its package cache, and `require`s it: for the google provider that is 1,470
 * modules and ~200 MB of JavaScript, parsed again on every synth. This hook keeps V8's
 * compiled code for those files, keyed by what stays the same across runs (device, inode,
 * size, mtime of the hard-linked file; node version), so later synths skip the parse.
 *
 * Why it stays (measured, `python -m bench.synth --rounds 5`, docs/benchmarks.md): a full synth
 * of stacks/ takes 1.14x as long without it on cdktf (3.45 s against 3.02 s) and 1.10x on cdktn
 * (3.93 s against 3.56 s). Node 22's built-in compile cache is no substitute: it is keyed by
 * path and jsii extracts to a new directory per run, so it never hits under jsii (1.44x the
 * uncached time, ~215 MB more cache per synth; docs/cdktn.md).
 *
 * Scope: only files under a jsii-kernel directory; anything else compiles as usual. Any
 * failure (unreadable cache, rejected data, full disk) falls back to the normal compile.
 * Environment: CDKTF_NODE_CODE_CACHE_DIR (required, else the hook does nothing; a directory
 * that cannot be created or written turns the hook off), CDKTF_NODE_CODE_CACHE_DEBUG=1
 * prints hit/miss counts to stderr at exit.
 */
const Module = require('module');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const cacheDir = usableDirectory(process.env.CDKTF_NODE_CODE_CACHE_DIR);
const JSII_KERNEL_DIR = `${path.sep}jsii-kernel-`;
const stats = { hits: 0, misses: 0, errors: 0 };

function usableDirectory(dir) {
  if (!dir) {
    return undefined;
  }
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.R_OK);
    return dir;
  } catch (_) {
    return undefined; // read-only home, odd mounts: compile as node always does
  }
}

function cacheFile(filename) {
  const st = fs.statSync(filename);
  const key = [st.dev, st.ino, st.size, st.mtimeMs, process.version, process.arch].join(':');
  return path.join(cacheDir, crypto.createHash('sha256').update(key).digest('hex').slice(0, 40));
}

// One reused read buffer: V8 consumes cached data inside the vm.Script constructor, so no
// per-file Buffer is left for the garbage collector (that garbage cost ~30 MB of peak RSS).
let readBuffer = Buffer.allocUnsafe(1 << 20);

function readCache(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch (_) {
    return undefined;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size > readBuffer.length) {
      readBuffer = Buffer.allocUnsafe(Math.max(size, readBuffer.length * 2));
    }
    const read = fs.readSync(fd, readBuffer, 0, size, 0);
    return read === size ? readBuffer.subarray(0, size) : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function makeRequire(mod) {
  const requireFn = (id) => mod.require(id);
  requireFn.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
  requireFn.resolve.paths = (request) => Module._resolveLookupPaths(request, mod);
  requireFn.main = process.mainModule;
  requireFn.extensions = Module._extensions;
  requireFn.cache = Module._cache;
  return requireFn;
}

function compileCached(mod, content, filename, file) {
  const cachedData = readCache(file);
  const script = new vm.Script(Module.wrap(content), { filename, cachedData });
  if (cachedData !== undefined && !script.cachedDataRejected) {
    stats.hits += 1;
  } else {
    stats.misses += 1;
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(temporary, script.createCachedData());
      fs.renameSync(temporary, file); // atomic: concurrent synths never read half a file
    } catch (_) {
      stats.errors += 1;
      fs.rmSync(temporary, { force: true });
    }
  }
  const wrapper = script.runInThisContext({ displayErrors: true });
  return wrapper.call(mod.exports, mod.exports, makeRequire(mod), mod, filename,
    path.dirname(filename));
}

if (cacheDir) {
  const originalCompile = Module.prototype._compile;
  Module.prototype._compile = function compile(content, filename) {
    // vm.Script on node 20 cannot serve import(): leave such files to node.
    if (!filename.includes(JSII_KERNEL_DIR) || content.startsWith('#!')
        || content.includes('import(')) {
      return originalCompile.call(this, content, filename);
    }
    let file;
    try {
      file = cacheFile(filename);
    } catch (_) {
      return originalCompile.call(this, content, filename);
    }
    return compileCached(this, content, filename, file);
  };
  if (process.env.CDKTF_NODE_CODE_CACHE_DEBUG === '1') {
    process.on('exit', () => {
      fs.writeSync(2, `[code-cache] ${process.pid} hits=${stats.hits} misses=${stats.misses} `
        + `errors=${stats.errors}\n`);
    });
  }
}
