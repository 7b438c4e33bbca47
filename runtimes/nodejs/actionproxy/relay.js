'use strict';
// The inside end of a process container's way to the API host (PROXY_API_RELAY): the container has a loopback
// interface only; the action calls __OW_API_HOST = http://127.0.0.1:<port>, and each connection there is piped
// to the invoker's Unix socket, which leads to the API host (workers/factories/relay.py).

const net = require('net');

function startApiRelay(unixPath, port) {
  const server = net.createServer((client) => {
    const upstream = net.connect(unixPath);
    const drop = () => { client.destroy(); upstream.destroy(); };
    client.on('error', drop);
    upstream.on('error', (error) => {
      console.error(`actionproxy: the relay to the API host is unavailable: ${error.message}`);
      drop();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('error', (error) => console.error(`actionproxy: no relay to the API host on 127.0.0.1:${port}: ${error.message}`));
  server.listen(port, '127.0.0.1');
  server.unref(); // the proxy's own server keeps the process alive, not the relay
}

module.exports = { startApiRelay };
