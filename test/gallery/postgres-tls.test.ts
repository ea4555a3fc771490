/**
 * sslmode=verify-full / verify-ca check the server's certificate whatever NODE_TLS_REJECT_UNAUTHORIZED
 * says: a server with a self-signed certificate (a stand-in for an impostor) never gets the startup
 * packet, let alone the password. verify-ca checks the chain but not the host name, as libpq does.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { connect, parsePgUrl, sslOptions } from '../../src/gallery/postgres/connection.js';
import { expectFacectlError } from '../store/helpers.js';

// Self-signed for localhost / 127.0.0.1, valid until 2126 (openssl req -x509 -newkey ec, 2026-12-07).
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5mButPNhF2e93ozC
rGrfY6Zv34z43AiI0LdyL9Shv6qhRANCAAQZH3ECn0uEI4Ck9xbYO9zGMfazl80n
mQAd9bh58oGWe2WAwKsBYj+Agq7qsAfpgm9fc6wRTF4qa1mTW48P7acx
-----END PRIVATE KEY-----
`;
const CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUGVNhzucOeeXC+U6eU4XdeQ3GG8IwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNzIxNDAxNloYDzIxMjYxMTEz
MjE0MDE2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQZH3ECn0uEI4Ck9xbYO9zGMfazl80nmQAd9bh58oGWe2WAwKsBYj+A
gq7qsAfpgm9fc6wRTF4qa1mTW48P7acxo28wbTAdBgNVHQ4EFgQURnGcUDO/za35
MO4UD286Ur4AvjUwHwYDVR0jBBgwFoAURnGcUDO/za35MO4UD286Ur4AvjUwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhANq04c/u6M/3cdSkFsnGt5hofTMDc1WaL6kTSPgjALZ8AiB/
h8PeaxXiKOVGcqMK9Ix/bAlZGcnxUgpTBy2z0neewg==
-----END CERTIFICATE-----
`;

/** Answers SSLRequest with 'S', serves TLS with the self-signed certificate, records what comes through it. */
async function impostor(): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  let bytes = 0;
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.write('S');
      const secure = new tls.TLSSocket(socket, { isServer: true, key: KEY, cert: CERT });
      secure.on('error', () => undefined);
      secure.on('data', (d: Buffer) => {
        bytes += d.length;
        const ask = Buffer.alloc(9);
        ask.write('R');
        ask.writeInt32BE(8, 1);
        ask.writeInt32BE(3, 5); // AuthenticationCleartextPassword: the password would come next
        secure.write(ask);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => bytes,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
afterEach(() => {
  if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
});

describe('postgres TLS: sslmode', () => {
  it('the verifying modes say rejectUnauthorized: true to node-postgres; verify-ca skips only the host name', () => {
    expect(parsePgUrl('postgres://u@h/d').config.ssl).toBe(false);
    expect(parsePgUrl('postgres://u@h/d?sslmode=require').config.ssl).toEqual({ rejectUnauthorized: false });
    expect(parsePgUrl('postgres://u@h/d?sslmode=verify-full').config.ssl).toEqual({ rejectUnauthorized: true });
    const ca = parsePgUrl('postgres://u@h/d?sslmode=verify-ca').config.ssl as tls.ConnectionOptions;
    expect(ca.rejectUnauthorized).toBe(true);
    expect(ca.checkServerIdentity!('other.example', {} as tls.PeerCertificate)).toBeUndefined();
  });

  for (const mode of ['verify-full', 'verify-ca']) {
    it(`${mode} with NODE_TLS_REJECT_UNAUTHORIZED=0: a server whose certificate does not verify gets nothing (exit 15)`, async () => {
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
      const server = await impostor();
      try {
        const target = parsePgUrl(`postgres://u:secret@127.0.0.1:${server.port}/d?sslmode=${mode}&connect_timeout=5`);
        const err = await expectFacectlError(() => connect(target), ExitCode.DB_UNREACHABLE, /^cannot connect to PostgreSQL at .*self[- ]signed certificate/);
        expect(err.message).not.toContain('secret');
        expect(server.received()).toBe(0);
      } finally {
        await server.close();
      }
    });
  }

  it('sslmode=require still connects to that server (no verification asked)', async () => {
    const server = await impostor();
    try {
      const target = parsePgUrl(`postgres://u:secret@127.0.0.1:${server.port}/d?sslmode=require&connect_timeout=2`);
      await connect(target).catch(() => undefined);
      expect(server.received()).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('with the CA trusted, verify-ca accepts a certificate for another host name; verify-full refuses it', async () => {
    const server = tls.createServer({ key: KEY, cert: CERT }, (s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const attempt = (mode: string) =>
      new Promise<string>((resolve) => {
        const s = tls.connect({ ...(sslOptions(mode) as tls.ConnectionOptions), ca: CERT, host: '127.0.0.1', port, servername: 'db.example' }, () => {
          s.destroy();
          resolve('ok');
        });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
    try {
      expect(await attempt('verify-ca')).toBe('ok');
      expect(await attempt('verify-full')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      server.close();
    }
  });
});
