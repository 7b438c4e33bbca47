'use strict';
// The child process that runs the action. The proxy starts it before /init (so a cold start does not
// wait for Node to boot), then sends, over the IPC channel:
//   {type: 'init', folder, main, env}  once: export env, require the code, answer ready or init-error;
//   {type: 'run', id, value, env}      per activation: export env, call main, answer result/bad-result.
// Whatever the action prints on stdout and stderr becomes its logs. When the proxy reads them through
// pipes (init's `markers`), a marker line on each stream precedes every answer (capture.js); otherwise
// they are the container's own.

const url = require('url');

const { FLUSHED, NOT_A_DICT, WARM_UP } = require('./protocol');

let markers = false;
// Taken before the action's code loads, which may replace process.stdout.write.
const writers = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];

/** Send an answer; first, when the proxy reads our output, the marker with its id on both streams. The
 * marker goes through the streams the action wrote to, behind what it wrote, and the answer leaves once both
 * are written: a pipe the proxy has not emptied yet makes Node queue writes, so writing is not done when
 * `write` returns. */
function reply(message, id) {
  if (!markers) {
    process.send(message);
    return;
  }
  let left = 2;
  const written = () => {
    left -= 1;
    if (left === 0) process.send(message);
  };
  for (const write of writers) {
    try {
      write(`${FLUSHED} ${id}\n`, written);
    } catch (error) { // the action closed it: the proxy waits for this stream no longer than its END_WAIT_MS
      written();
    }
  }
}

class LoadError extends Error {}

function main() {
  // The proxy is gone: nobody can read our answers.
  process.on('disconnect', () => process.exit(0));
  const first = (message) => {
    if (message && message.type === WARM_UP) { // answered in kind: both ends' IPC code is compiled before /init
      process.send({ type: WARM_UP });
      return;
    }
    process.off('message', first);
    if (!message || message.type !== 'init') {
      process.send({ type: 'init-error', message: 'The launcher expected an init message.' });
      return;
    }
    markers = message.markers === true;
    init(message).then(
      (entry) => {
        process.on('message', (request) => run(entry, request));
        reply({ type: 'ready' }, message.id);
      },
      (error) => reply({ type: 'init-error', message: error.message }, message.id),
    );
  };
  process.on('message', first);
}

async function init({ folder, main: mainName, env }) {
  Object.assign(process.env, env); // exported before the code loads, so module-level code sees them
  process.chdir(folder); // as OpenWhisk's runtime does: the action's files are relative to its folder
  const exported = await load(folder);
  const entry = pickEntry(folder, exported, mainName);
  if (typeof entry !== 'function') {
    const message = `Cannot start action: the code has no function named '${mainName}'.`;
    console.error(message);
    throw new LoadError(message);
  }
  return entry;
}

async function load(folder) {
  try {
    return require(folder); // package.json's main, else index.js
  } catch (error) {
    if (error && error.code === 'ERR_REQUIRE_ESM') return loadModule(folder);
    console.error(error && error.stack ? error.stack : error);
    throw new LoadError(`Cannot start action: ${describeLoadError(error)}`);
  }
}

async function loadModule(folder) {
  try {
    return await import(url.pathToFileURL(require.resolve(folder)).href);
  } catch (error) {
    console.error(error && error.stack ? error.stack : error);
    throw new LoadError(`Cannot start action: ${describeLoadError(error)}`);
  }
}

function describeLoadError(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function pickEntry(folder, exported, mainName) {
  const cached = require.cache[require.resolve(folder)];
  if (cached && typeof cached.squallEntry === 'function') return cached.squallEntry; // plain code
  if (exported && typeof exported[mainName] === 'function') return exported[mainName];
  if (mainName === 'main' && typeof exported === 'function') return exported; // module.exports = fn
  if (exported && exported.default && typeof exported.default[mainName] === 'function') {
    return exported.default[mainName]; // an ES module's default export holding main
  }
  return undefined;
}

// The __OW_ variables the last activation was given: a variable the next one does not bring (__OW_API_KEY for an
// action not given a key) is removed, so no activation sees a credential of an earlier one.
let exported = [];

function run(entry, request) {
  if (!request || request.type !== 'run') return;
  const current = request.env || {};
  for (const name of exported) {
    if (!(name in current)) delete process.env[name];
  }
  Object.assign(process.env, current);
  exported = Object.keys(current);
  let pending;
  try {
    pending = Promise.resolve(entry(request.value));
  } catch (error) {
    pending = Promise.reject(error);
  }
  pending.then(
    (result) => answer(request.id, result === undefined ? {} : result),
    (error) => {
      // An application error: reported, and the container lives on.
      console.error(error instanceof Error ? error.stack : error);
      answer(request.id, { error: errorValue(error) });
    },
  );
}

function errorValue(error) {
  if (error instanceof Error) return error.message;
  return error === undefined || error === null ? {} : error; // reject({...}) passes its value through
}

function answer(id, result) {
  if (result === null || typeof result !== 'object') {
    reply({ type: 'bad-result', id, message: NOT_A_DICT }, id);
    return;
  }
  let json;
  try {
    json = JSON.stringify(result);
  } catch (error) {
    reply({ type: 'bad-result', id, message: `The action did not return a valid JSON value: ${error.message}` }, id);
    return;
  }
  if (typeof json !== 'string') { // e.g. a toJSON() that returns undefined
    reply({ type: 'bad-result', id, message: NOT_A_DICT }, id);
    return;
  }
  reply({ type: 'result', id, json }, id);
}

if (require.main === module) {
  main();
}
