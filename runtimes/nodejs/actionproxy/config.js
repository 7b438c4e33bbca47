'use strict';
// Proxy settings, read once from the environment in main() and passed down.

const os = require('os');

/** The same variables as the Python proxy: PROXY_HOST, PROXY_PORT, PROXY_SOCKET, PROXY_WORK_DIR,
 * PROXY_ALLOW_REINIT. */
function configFromEnv(env) {
  const port = Number.parseInt(env.PROXY_PORT || '8080', 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PROXY_PORT must be a port number, not ${JSON.stringify(env.PROXY_PORT)}`);
  }
  return Object.freeze({
    host: env.PROXY_HOST || '0.0.0.0',
    port,
    // A Unix socket to listen on instead of TCP (process containers: only the invoker may reach the proxy).
    socket: env.PROXY_SOCKET || '',
    // OpenWhisk's reference proxy honours PROXY_ALLOW_REINIT=1
    allowReinit: ['1', 'true', 'yes'].includes((env.PROXY_ALLOW_REINIT || '').toLowerCase()),
    workDir: env.PROXY_WORK_DIR || os.tmpdir(),
    // Process containers: 127.0.0.1:apiRelayPort inside is relayed to this Unix socket, the way to the API host.
    apiRelay: env.PROXY_API_RELAY || '',
    apiRelayPort: Number.parseInt(env.PROXY_API_RELAY_PORT || '0', 10),
  });
}

module.exports = { configFromEnv };
