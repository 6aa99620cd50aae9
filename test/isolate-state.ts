import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/**
 * Every `ser-agent run` keeps its event queue in a state directory, by default under
 * $XDG_STATE_HOME. Test files run in parallel and start agents that inherit this environment:
 * each file gets its own directory so no two agents share a queue, and none writes to HOME.
 */
const stateHome = mkdtempSync(path.join(tmpdir(), 'ser-test-state-'));
process.env['XDG_STATE_HOME'] = stateHome;
afterAll(() => rmSync(stateHome, { recursive: true, force: true }));
