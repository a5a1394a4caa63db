/**
 * Each test worker hands out ports from its own part of QUIET_PORTS. Workers run test files side
 * by side and a port found free is bound a moment later (an api takes a second or two to start):
 * in the same range, two workers could choose the same one in between. Processes a test starts
 * choose from the whole range; managed Redis chooses again when its port was taken.
 */
// The module itself, not the package's index: the same instance tests get through @webmon/core,
// without loading the rest of the package before every test file.
import { QUIET_PORTS, useQuietPorts } from '../../packages/core/src/redis-server.js';

const LANES = 4;
const pool = Number(process.env.VITEST_POOL_ID ?? '1');
const lane = (Number.isInteger(pool) && pool > 0 ? pool - 1 : 0) % LANES;
const width = Math.floor((QUIET_PORTS.to - QUIET_PORTS.from + 1) / LANES);
useQuietPorts({ from: QUIET_PORTS.from + lane * width, to: QUIET_PORTS.from + (lane + 1) * width - 1 });
