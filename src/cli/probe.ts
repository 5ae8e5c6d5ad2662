/**
 * The `--run-validation` probe, run as its own process so that it can be started inside the
 * target network namespace. Listeners on the proxy's two ports echo what they receive; a
 * client connects to the passthrough address on the probe port, where nothing listens. The
 * token coming back proves the connection was captured and redirected to a listener.
 *
 * argv: LISTEN_HOST TARGET_HOST PORT,PORT PROBE_PORT TIMEOUT_MS
 * exit: 0 captured; 3 not captured in time (reason on stderr).
 */
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server } from 'node:net';

const [listenHost = '127.0.0.1', target = '127.0.0.6', portList = '', probePortText = '', timeoutText = '5000'] =
  process.argv.slice(2);
const token = randomBytes(16).toString('hex');
const servers: Server[] = [];

function finish(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  for (const server of servers) server.close();
  process.exit(code);
}

async function listen(port: number): Promise<boolean> {
  const server = createServer((socket) => {
    socket.setTimeout(2000, () => socket.destroy());
    socket.once('data', (data) => socket.end(data));
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host: listenHost, port }, () => {
      servers.push(server);
      resolve(true);
    });
  });
}

function attempt(): void {
  const socket = createConnection({ host: target, port: Number(probePortText), localAddress: listenHost });
  socket.setTimeout(900, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.once('connect', () => socket.write(token));
  socket.once('data', (data) => {
    if (data.toString() === token) finish(0, 'Validation passed, iptables rules established');
    socket.destroy();
  });
}

const ports = portList.split(',').map(Number);
// No top-level await: the bundle is CommonJS.
void Promise.all(ports.map(listen)).then((opened) => {
  if (!opened.some(Boolean)) finish(3, `no listener available: ${ports.map((p) => `${listenHost}:${p}`).join(',')}`);
  setTimeout(
    () =>
      finish(
        3,
        `validation timeout: no connection to ${target}:${probePortText} reached the proxy ports within ${timeoutText} ms`,
      ),
    // Node fires a timer over 2^31-1 ms at once; no probe needs to wait longer than that (24.8 days).
    Math.min(Number(timeoutText), 2 ** 31 - 1),
  );
  attempt();
  setInterval(attempt, 1000);
});
