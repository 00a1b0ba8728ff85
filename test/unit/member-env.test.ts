// The environment launchers give a member process (kvstore/defaults.ts).

import { memberProcessEnv } from '../../kvstore/defaults';

describe('memberProcessEnv', () => {
  const base = { PATH: '/usr/bin', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', TSRAFT_X: 'kept' };

  test('leaves out the certificate bundle a member never uses, turns colour off for its log file, keeps the rest', () => {
    expect(memberProcessEnv(base)).toEqual({ PATH: '/usr/bin', TSRAFT_X: 'kept', NO_COLOR: '1', NODE_OPTIONS: '--v8-pool-size=1' });
    expect(base.NODE_EXTRA_CA_CERTS).toBe('/etc/ssl/certs/ca-certificates.crt');
  });

  test('adds what the launcher asks for', () => {
    expect(memberProcessEnv(base, { TSRAFT_FAULTFS: 'root=/d' })).toEqual({
      PATH: '/usr/bin', TSRAFT_X: 'kept', NO_COLOR: '1', NODE_OPTIONS: '--v8-pool-size=1', TSRAFT_FAULTFS: 'root=/d',
    });
  });

  test('sizes V8\'s worker pool after the options already given, and keeps a size given there', () => {
    expect(memberProcessEnv({ NODE_OPTIONS: '--require ./probe.js' }).NODE_OPTIONS).toBe('--require ./probe.js --v8-pool-size=1');
    expect(memberProcessEnv({ NODE_OPTIONS: '--v8-pool-size=4' }).NODE_OPTIONS).toBe('--v8-pool-size=4');
    expect(memberProcessEnv({}, { NODE_OPTIONS: '--v8-pool-size=2' }).NODE_OPTIONS).toBe('--v8-pool-size=2');
  });

  test('an extra variable cannot bring the bundle back', () => {
    expect(memberProcessEnv({}, { NODE_EXTRA_CA_CERTS: '/x' }).NODE_EXTRA_CA_CERTS).toBeUndefined();
  });
});
