'use strict';
// Squall's Node.js action proxy: OpenWhisk's action runtime protocol (POST /init, POST /run) on port
// 8080, with Node's built-ins only. `node proxy.js` in the container; settings from PROXY_HOST,
// PROXY_PORT, PROXY_WORK_DIR and PROXY_ALLOW_REINIT.
//
// The invoker keeps one connection per container and sends many /run requests on it, so the server
// never closes idle keep-alive connections and never times a request out (the invoker owns deadlines).

const fs = require('fs');
const http = require('http');
const path = require('path');

const { Capture, LOGS_HEADER, LOGS_LENGTH_HEADER } = require('./capture');
const { configFromEnv } = require('./config');
const { startApiRelay } = require('./relay');
const { ActionRunner, Reply } = require('./runner');

function createServer(runner) {
  const server = http.createServer({ noDelay: true, requestTimeout: 0, headersTimeout: 0 }, (request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      handle(runner, request, Buffer.concat(chunks)).then(
        (reply) => send(response, reply),
        (error) => { // a proxy bug must still answer, or the invoker waits for its timeout
          process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
          send(response, Reply.error(500, `The action proxy failed: ${error && error.message}`));
        },
      );
    });
  });
  server.keepAliveTimeout = 0;
  server.timeout = 0;
  return server;
}

async function handle(runner, request, body) {
  const route = request.url.split('?', 1)[0];
  if (request.method === 'POST' && route === '/init') return runner.init(body);
  if (request.method === 'POST' && route === '/run') {
    const limit = request.headers[LOGS_HEADER];
    return runner.run(body, /^\d+$/.test(limit || '') ? Number(limit) : null);
  }
  return Reply.error(404, `No such endpoint: ${request.url}`);
}

function send(response, reply) {
  const result = Buffer.from(reply.body, 'utf8');
  const headers = { 'Content-Type': 'application/json', 'Content-Length': result.length };
  if (Array.isArray(reply.logs)) { // the lines first, then the result unchanged
    const length = reply.logs.reduce((sum, part) => sum + part.length, 0);
    headers[LOGS_LENGTH_HEADER] = length;
    headers['Content-Length'] = length + result.length;
    response.writeHead(reply.status, headers);
    for (const part of reply.logs) response.write(part); // apart: joining would copy a flood once more
    response.end(result);
    return;
  }
  response.writeHead(reply.status, headers);
  response.end(result);
}

function main() {
  const config = configFromEnv(process.env);
  const capture = new Capture({ stdout: process.stdout, stderr: process.stderr });
  const runner = new ActionRunner(config, { capture });
  runner.prepare();
  const server = createServer(runner);
  const stop = () => { // docker stop sends SIGTERM; a PID 1 without a handler would ignore it
    runner.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (config.apiRelay) {
    startApiRelay(config.apiRelay, config.apiRelayPort);
  }
  server.once('listening', () => warmUp(server));
  if (config.socket) {
    listenOnSocket(server, config.socket);
  } else {
    server.listen(config.port, config.host);
  }
}

/** One request to ourselves once listening. Node compiles its HTTP code on first use, and a prewarmed
 * container's /init paid for that: 7.7 ms against 5.0 ms after a request (docs/runtimes.md). Best effort. */
function warmUp(server) {
  const address = server.address();
  const target = typeof address === 'string'
    ? { socketPath: address }
    : { host: { '0.0.0.0': '127.0.0.1', '::': '::1' }[address.address] || address.address, port: address.port };
  const request = http.request({ ...target, method: 'GET', path: '/warm-up', agent: false }, (response) => {
    response.resume();
  });
  request.on('error', () => {}); // the invoker's first request pays for the warm-up instead
  request.end();
}

/** Listen on a Unix socket, mode 0600; a path longer than a socket address may be is bound relative to cwd. */
function listenOnSocket(server, socketPath) {
  try {
    fs.unlinkSync(socketPath); // one an earlier proxy left
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  const relative = path.relative(process.cwd(), socketPath);
  const address = Buffer.byteLength(socketPath) > 100 && relative.length < socketPath.length ? relative : socketPath;
  process.umask(0o077); // the socket is made 0600 (and whatever the action writes later is private too)
  server.listen(address);
}

if (require.main === module) {
  main();
}
