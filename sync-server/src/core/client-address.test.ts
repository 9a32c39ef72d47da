import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientAddressKey, createClientIp } from './client-address';

describe('clientAddressKey', () => {
  it('keeps an IPv4 address as it is', () => {
    expect(clientAddressKey('198.51.100.7')).toBe('198.51.100.7');
    expect(clientAddressKey('198.51.100.8')).not.toBe(clientAddressKey('198.51.100.7'));
    expect(clientAddressKey('127.0.0.1')).toBe('127.0.0.1');
  });

  it('groups IPv6 addresses by their /64, whatever the spelling', () => {
    const key = clientAddressKey('2001:db8:aa:bb::1');
    expect(key).toBe('2001:db8:aa:bb::/64');
    for (const same of [
      '2001:db8:aa:bb:1:2:3:4',
      '2001:0DB8:00AA:00BB:FFFF:FFFF:FFFF:FFFF',
      '2001:db8:aa:bb:0:0:0:0',
      '2001:db8:aa:bb::',
      '2001:db8:aa:bb::1.2.3.4',
      '2001:db8:aa:bb::9%eth0',
    ]) {
      expect(clientAddressKey(same), same).toBe(key);
    }
    expect(clientAddressKey('2001:db8:aa:bc::1')).toBe('2001:db8:aa:bc::/64');
    expect(clientAddressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientAddressKey('2001:db8:0:0:1::')).toBe('2001:db8:0:0::/64');
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('reads an IPv4-mapped IPv6 address as its IPv4 address, in either notation', () => {
    expect(clientAddressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientAddressKey('::FFFF:cb00:7109')).toBe('203.0.113.9');
    expect(clientAddressKey('0:0:0:0:0:ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientAddressKey('::ffff:203.0.113.10')).toBe('203.0.113.10');
    // Not mapped: the /96 next to it, and an address that only ends like one.
    expect(clientAddressKey('::fffe:203.0.113.9')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('1::ffff:203.0.113.9')).toBe('1:0:0:0::/64');
  });

  it('leaves anything that is not an IP address unchanged', () => {
    for (const raw of ['', 'localhost', '1.2.3', '2001:db8:::1', '1:2:3:4:5:6:7:8:9', 'unix:/tmp/x']) {
      expect(clientAddressKey(raw), raw).toBe(raw);
    }
  });
});

describe('createClientIp', () => {
  /** A request as Node hands it over: from `peer` (undefined: the socket is gone), with X-Forwarded-For. */
  const request = (peer: string | undefined, forwardedFor?: string): IncomingMessage => {
    const socket = new Socket();
    Object.defineProperty(socket, 'remoteAddress', { value: peer });
    const raw = new IncomingMessage(socket);
    if (forwardedFor !== undefined) raw.headers['x-forwarded-for'] = forwardedFor;
    return raw;
  };

  it('without trustProxy: the socket peer, whatever the header says', () => {
    expect(createClientIp(false)(request('10.0.0.1', '203.0.113.5'))).toBe('10.0.0.1');
  });

  it('trustProxy true: the first forwarded address', () => {
    expect(createClientIp(true)(request('10.0.0.1', '203.0.113.5, 10.0.0.2'))).toBe('203.0.113.5');
  });

  it('a list of proxies: the nearest address not trusted, and only when the peer is trusted', () => {
    const ip = createClientIp('10.0.0.1, 10.0.0.2');
    expect(ip(request('10.0.0.1', '198.51.100.9, 203.0.113.5, 10.0.0.2'))).toBe('203.0.113.5');
    expect(ip(request('10.0.0.9', '203.0.113.5'))).toBe('10.0.0.9');
    expect(createClientIp('10.0.0.0/8')(request('10.1.2.3', '203.0.113.5'))).toBe('203.0.113.5');
  });

  it('a request whose socket is gone: empty, not a throw', () => {
    expect(createClientIp(false)(request(undefined))).toBe('');
  });
});
