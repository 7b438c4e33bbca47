'use strict';
// The action's lifecycle inside one container: /init hands the code to a launcher child, /run talks
// to it. Unlike the Python proxy, runs are not serialised: several may be in flight at once (an
// action's limits.concurrency > 1), each matched to its answer by id. The sentinel is written here
// because it marks the end of an activation, whatever HTTP says about it.

const childProcess = require('child_process');
const path = require('path');

const protocol = require('./protocol');
const { materialise, SourceError } = require('./source');

const LAUNCHER = path.join(__dirname, 'launcher.js');

class Reply {
  constructor(status, body, logs = null) {
    this.status = status;
    this.body = body; // a JSON text
    this.logs = logs; // the activation's log lines, JSON in parts (Buffers), when the invoker asked (capture.js)
  }

  static of(status, payload) {
    return new Reply(status, JSON.stringify(payload));
  }

  static error(status, message) {
    return Reply.of(status, { error: message });
  }
}

/** One launcher child: sends it requests and routes its answers to the waiting promises. */
class Launcher {
  constructor(env, capture = null) {
    this.waiting = new Map(); // id -> resolve(answer | null)
    this.exited = null; // {code, signal} once the child is gone
    this.onReady = null;
    const output = capture ? 'pipe' : 'inherit';
    this.process = childProcess.fork(LAUNCHER, [], {
      env,
      stdio: ['ignore', output, output, 'ipc'],
      serialization: 'json',
    });
    if (capture) capture.attach(this.process);
    this.process.on('message', (message) => this.receive(message));
    // 'close' comes after 'exit' and after the IPC channel drained: every answer sent has arrived.
    this.process.on('close', (code, signal) => this.gone(code, signal));
    this.process.on('error', () => {}); // a failed send shows up as 'close'
    // Node compiles its IPC code on first use: one exchange now, while the launcher waits as a spare, so that a
    // prewarmed container's /init does not pay for it (docs/runtimes.md). The answer needs no handling.
    this.post({ type: protocol.WARM_UP });
  }

  get alive() {
    return this.exited === null;
  }

  init(id, folder, main, env, markers) {
    return new Promise((resolve) => {
      if (!this.alive) {
        resolve(null);
        return;
      }
      this.onReady = resolve;
      this.post({ type: 'init', id, folder, main, env, markers });
    });
  }

  run(id, value, env) {
    return new Promise((resolve) => {
      if (!this.alive) {
        resolve(null);
        return;
      }
      this.waiting.set(id, resolve);
      this.post({ type: 'run', id, value, env });
    });
  }

  post(message) {
    if (!this.alive || !this.process.connected) {
      return; // 'close' resolves whoever waits
    }
    this.process.send(message, (error) => {
      if (error) this.stop();
    });
  }

  receive(message) {
    if (message.type === 'ready' || message.type === 'init-error') {
      const resolve = this.onReady;
      this.onReady = null;
      if (resolve) resolve(message);
      return;
    }
    const resolve = this.waiting.get(message.id);
    if (resolve) {
      this.waiting.delete(message.id);
      resolve(message);
    }
  }

  gone(code, signal) {
    this.exited = { code, signal };
    if (this.onReady) this.onReady(null);
    this.onReady = null;
    for (const resolve of this.waiting.values()) resolve(null);
    this.waiting.clear();
  }

  stop() {
    if (this.alive) this.process.kill('SIGKILL');
  }
}

class ActionRunner {
  constructor(config, { stdout = process.stdout, stderr = process.stderr, env = process.env, capture = null } = {}) {
    this.config = config;
    this.capture = capture; // reads the launchers' output, and ours, when the proxy hands logs back
    this.stdout = capture ? capture.writer('stdout') : stdout;
    this.stderr = capture ? capture.writer('stderr') : stderr;
    this.env = env;
    this.launcher = null;
    this.spare = null; // a launcher started ahead of /init, so a cold start does not wait for Node to boot
    this.initialized = false;
    this.initializing = false;
    this.nextId = 0;
  }

  /** Start the spare launcher now (a prewarmed container then pays only for loading the code). */
  prepare() {
    if (this.spare === null || !this.spare.alive) this.spare = new Launcher({ ...this.env }, this.capture);
  }

  // --- /init ---------------------------------------------------------------------------------------

  async init(raw) {
    const reply = await this.initOnce(raw);
    if (reply.status !== 200) {
      this.endActivation();
      if (this.capture) this.capture.end(null); // the invoker reads a failed /init's lines from the engine
    }
    return reply;
  }

  async initOnce(raw) {
    if (this.initializing || (this.initialized && !this.config.allowReinit)) {
      this.stderr.write(`${protocol.REINIT}\n`); // as OpenWhisk's proxies: the activation's logs say why
      return Reply.error(403, protocol.REINIT);
    }
    let body;
    try {
      body = parse(raw);
    } catch (error) {
      return Reply.error(400, `Cannot parse the /init body: ${error.message}`);
    }
    if (!isObject(body)) return Reply.error(400, 'Cannot parse the /init body: the body must be a JSON object');
    const value = body.value || {};
    if (!isObject(value)) return Reply.error(400, "The /init body's value must be an object.");
    // "" too, as OpenWhisk's Node.js runtime: an action always has code
    if (typeof value.code !== 'string' || value.code === '') return Reply.error(403, protocol.NO_CODE);
    this.initializing = true;
    try {
      return await this.start(value);
    } finally {
      this.initializing = false;
    }
  }

  async start(value) {
    if (this.launcher !== null) this.launcher.stop(); // a permitted re-init replaces the running code
    this.launcher = null;
    const main = typeof value.main === 'string' && value.main ? value.main : 'main';
    let folder;
    try {
      folder = materialise(value.code, Boolean(value.binary), main, this.config.workDir);
    } catch (error) {
      if (!(error instanceof SourceError)) throw error;
      this.stderr.write(`${error.message}\n`);
      return Reply.error(502, error.message);
    }
    const env = {};
    for (const [key, item] of Object.entries(value.env || {})) env[key] = protocol.envString(item);
    this.prepare();
    const launcher = this.spare;
    this.spare = null;
    this.nextId += 1;
    const id = String(this.nextId);
    const answer = await launcher.init(id, folder, main, env, this.capture !== null);
    if (this.capture) await this.capture.flushed(id, launcher.process); // what loading the code printed comes before the sentinels
    if (answer === null) {
      const { code, signal } = launcher.exited;
      return Reply.error(502, 'Cannot start action: the action exited during initialization '
        + `(exit ${signal ? `signal ${signal}` : `code ${code}`}). Check logs for details.`);
    }
    if (answer.type !== 'ready') {
      launcher.stop();
      return Reply.error(502, answer.message);
    }
    this.launcher = launcher;
    this.initialized = true;
    return Reply.of(200, { ok: true });
  }

  // --- /run ----------------------------------------------------------------------------------------

  /** `logLimit`: the invoker's log limit in bytes when it wants the lines with the answer. */
  async run(raw, logLimit = null) {
    let reply;
    try {
      reply = await this.runOnce(raw);
    } finally {
      this.endActivation();
    }
    const logs = this.capture ? this.capture.end(logLimit) : null;
    return logs === null ? reply : new Reply(reply.status, reply.body, logs);
  }

  async runOnce(raw) {
    const launcher = this.launcher;
    if (launcher === null) return Reply.error(500, protocol.NOT_INITIALIZED);
    if (!launcher.alive) return Reply.error(502, protocol.EXITED_ON_RUN); // the invoker should have dropped us
    let request;
    try {
      request = parse(raw);
    } catch (error) {
      return Reply.error(400, `Cannot parse the /run body: ${error.message}`);
    }
    // The action never sees a body or a value that is neither an object nor an array; no value is {}.
    if (!isObject(request)) return Reply.error(404, protocol.NOT_AN_ARGUMENT);
    const value = request.value === undefined ? {} : request.value;
    if (value === null || typeof value !== 'object') return Reply.error(404, protocol.NOT_AN_ARGUMENT);
    const env = {};
    for (const [key, item] of Object.entries(request)) {
      if (key !== 'value') env[`__OW_${key.toUpperCase()}`] = protocol.envString(item);
    }
    this.nextId += 1;
    const id = this.nextId;
    const answer = await launcher.run(id, value, env);
    if (this.capture) await this.capture.flushed(String(id), launcher.process); // all it printed is read before the sentinels
    if (answer === null) return Reply.error(502, protocol.EXITED_ON_RUN);
    if (answer.type === 'result') return new Reply(200, answer.json); // already JSON: passed through
    return Reply.error(502, answer.message);
  }

  // --- both ----------------------------------------------------------------------------------------

  endActivation() {
    this.stdout.write(`${protocol.SENTINEL}\n`);
    this.stderr.write(`${protocol.SENTINEL}\n`);
  }

  close() {
    for (const launcher of [this.launcher, this.spare]) {
      if (launcher !== null) launcher.stop();
    }
    this.launcher = null;
    this.spare = null;
  }
}

/** The JSON of a request body; an empty body or `null` is {} (OpenWhisk's reference proxy). */
function parse(raw) {
  const text = raw.toString('utf8');
  const body = text.trim() ? JSON.parse(text) : null;
  return body === null ? {} : body;
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

module.exports = { ActionRunner, Reply };
