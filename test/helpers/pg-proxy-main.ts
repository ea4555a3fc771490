/**
 * A TCP front for a PostgreSQL test server (run as a child by pg-proxy.ts, so a test's spawnSync cannot
 * stall it): `--upstream <port>`, optionally `--password <pw>`: ask every client for that password in
 * clear text (PGlite accepts any) and refuse any other with SQLSTATE 28P01, as a real server does.
 * Prints "port <n>", then "password <json>" for each password a client sent. Standard input takes
 * "freeze" (bytes are held, both ways, with the sockets kept open: a network that silently stops
 * carrying anything, while the kernel still acknowledges), "freeze-answers" (only the server's bytes are
 * held: a statement is carried out, its answer lost) and "thaw"; each is acknowledged on stdout.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const upstreamPort = Number(arg('upstream'));
const password = arg('password');

const SSL_REQUEST = 80877103;
let frozen = false;
/** Only the server's answers are held (`freeze-answers`): a statement reaches the server, its answer never comes back. */
let answersFrozen = false;
const held: (() => void)[] = [];
const forward = (to: net.Socket, answers = false) => (d: Buffer) => (frozen || (answers && answersFrozen) ? held.push(() => to.write(d)) : to.write(d));

/** One message: type byte (absent for the startup packet), length, body. */
function message(type: string | null, body: Buffer): Buffer {
  const head = Buffer.alloc(type ? 5 : 4);
  if (type) head.write(type);
  head.writeInt32BE(body.length + 4, type ? 1 : 0);
  return Buffer.concat([head, body]);
}

function pipeUp(client: net.Socket, startup: Buffer, rest: Buffer): void {
  const up = net.connect(upstreamPort, '127.0.0.1', () => {
    up.write(startup);
    if (rest.length) up.write(rest);
  });
  client.on('data', forward(up));
  up.on('data', forward(client, true));
  for (const [a, b] of [[client, up], [up, client]] as const) {
    a.on('error', () => b.destroy());
    a.on('close', () => b.destroy());
  }
}

net
  .createServer((client) => {
    let buf = Buffer.alloc(0);
    let startup: Buffer | null = null;
    client.on('error', () => undefined);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!startup) {
        if (buf.length < 8 || buf.length < buf.readInt32BE(0)) return;
        const len = buf.readInt32BE(0);
        const packet = buf.subarray(0, len);
        buf = buf.subarray(len);
        if (packet.readInt32BE(4) === SSL_REQUEST) {
          client.write('N');
          return onData(Buffer.alloc(0));
        }
        startup = packet;
        if (!password) {
          client.off('data', onData);
          return pipeUp(client, startup, buf);
        }
        const ask = Buffer.alloc(4);
        ask.writeInt32BE(3); // AuthenticationCleartextPassword
        client.write(message('R', ask));
      }
      if (buf.length < 5 || buf.length < 1 + buf.readInt32BE(1)) return;
      const len = 1 + buf.readInt32BE(1);
      const sent = buf.subarray(5, len - 1).toString();
      buf = buf.subarray(len);
      client.off('data', onData);
      process.stdout.write(`password ${JSON.stringify(sent)}\n`);
      if (sent === password) return pipeUp(client, startup, buf);
      const fields = Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed for user "postgres"\0\0');
      client.end(message('E', fields));
    };
    client.on('data', onData);
  })
  .listen(0, '127.0.0.1', function (this: net.Server) {
    process.stdout.write(`port ${(this.address() as net.AddressInfo).port}\n`);
  });

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'freeze') frozen = true;
  if (line === 'freeze-answers') answersFrozen = true;
  if (line === 'thaw') {
    frozen = answersFrozen = false;
    for (const send of held.splice(0)) send();
  }
  process.stdout.write(`${line.startsWith('freeze') ? 'frozen' : 'thawed'}\n`);
});
process.stdin.on('end', () => process.exit(0));
