import { describe, expect, it } from 'vitest';
import { normalizeUrl } from './url.js';

describe('normalizeUrl', () => {
  it.each([
    ['HTTPS://Example.COM:443/a?b=1#frag', 'https://example.com/a?b=1', 'https', 'example.com'],
    ['http://example.com', 'http://example.com/', 'http', 'example.com'],
    ['  http://example.com:8080/x  ', 'http://example.com:8080/x', 'http', 'example.com'],
    ['http://bücher.example/', 'http://xn--bcher-kva.example/', 'http', 'xn--bcher-kva.example'],
    ['ftp://ftp.Example.org/pub/file.txt', 'ftp://ftp.example.org/pub/file.txt', 'ftp', 'ftp.example.org'],
    ['tcp://Mail.Example.org:25', 'tcp://mail.example.org:25', 'tcp', 'mail.example.org'],
    ['tcp://[::1]:22', 'tcp://[::1]:22', 'tcp', '::1'],
    ['http://[::1]:8080/', 'http://[::1]:8080/', 'http', '::1'],
    ['icmp://Gateway.Example.org', 'icmp://gateway.example.org', 'icmp', 'gateway.example.org'],
    ['icmp://[::1]', 'icmp://[::1]', 'icmp', '::1'],
    // International names in any scheme: punycode, whether written in letters or percent-encoded.
    ['icmp://bücher.example', 'icmp://xn--bcher-kva.example', 'icmp', 'xn--bcher-kva.example'],
    ['tcp://BÜCHER.example:22', 'tcp://xn--bcher-kva.example:22', 'tcp', 'xn--bcher-kva.example'],
    ['tls://b%C3%BCcher.example:443', 'tls://xn--bcher-kva.example:443', 'tls', 'xn--bcher-kva.example'],
    ['mailto:someone@example.com', 'mailto:someone@example.com', 'mailto', ''],
    ['gopher://old.example/1', 'gopher://old.example/1', 'gopher', 'old.example'],
  ])('%s → %s', (input, url, scheme, host) => {
    expect(normalizeUrl(input)).toEqual({ url, scheme, host });
  });

  it.each([
    [42, /must be a string/],
    ['', /must not be empty/],
    ['example.com/path', /has no scheme/],
    ['http://', /not a valid URL|no host/],
    ['http://exa mple.com/', /not a valid URL/],
    ['tcp://host', /needs a port/],
    ['icmp:///host', /has no host/],
    ['tcp://a%zz.example:1', /invalid host/],
    ['tcp://a%2Fb.example:1', /invalid host/],
    ['http://user:secret@example.com/', /credentials/],
    [`http://example.com/${'a'.repeat(2100)}`, /longer than 2048/],
  ])('rejects %s', (input, message) => {
    expect(() => normalizeUrl(input)).toThrow(message);
    try {
      normalizeUrl(input);
    } catch (err) {
      expect((err as { code: string }).code).toBe('WEBMON_ERR_INVALID_URL');
    }
  });
});
