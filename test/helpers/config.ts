import { loadConfig, type AgentConfig, type ConfigOverrides } from '../../src/config/load.js';

export const TEST_INSTALL_DIR = '/opt/ser-agent';
export const TEST_HOME_DIR = '/home/test';

/**
 * The configuration the agent computes from its defaults and `overrides` alone: no environment,
 * no file, a fixed install directory, home and host name, so tests see the same values anywhere.
 */
export function testConfig(overrides: ConfigOverrides = {}): Readonly<AgentConfig> {
  return loadConfig({
    env: {},
    installDir: TEST_INSTALL_DIR,
    systemFile: '/nonexistent/etc/ser-agent/config.json',
    homeDir: TEST_HOME_DIR,
    hostname: 'box',
    overrides,
  });
}
