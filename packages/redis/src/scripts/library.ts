import { createHash } from 'node:crypto';
import { CLAIM_FN, CLAIM_LUA } from './claim.js';
import { COMMON_LUA } from './common.js';
import { FLUSH_LUA } from './flush.js';
import { END_WAIT_LUA, HAND_OFF_FN } from './hand-off.js';
import { GROUP_STATE_LUA } from './group-state.js';
import { DELIVERY_STEPS_LUA } from './delivery-steps.js';
import { ENQUEUE_FN, ENQUEUE_LUA } from './enqueue.js';
import { LIST_GROUPS_LUA } from './groups.js';
import { COMPLETE_AND_CLAIM_LUA, COMPLETE_FN, COMPLETE_LUA, FAIL_LUA } from './finish.js';
import { CANCEL_LUA, RESCHEDULE_LUA } from './job-control.js';
import { EXTEND_LEASE_LUA, RECOVER_LUA } from './lease.js';
import { LISTEN_LUA } from './listen.js';
import { MIGRATE_LUA } from './migrate.js';
import { LIST_STATE_LUA, READ_JOBS_LUA, ROWS_FN } from './listing.js';
import { REMOVE_JOBS_LUA, RETRY_JOB_LUA, SET_PAUSED_LUA, SET_PROGRESS_LUA } from './operations.js';
import { ADVANCE_SCHEDULE_LUA, FIRE_SCHEDULE_LUA, PAUSE_SCHEDULE_LUA, SAVE_SCHEDULE_LUA } from './schedules.js';
import { HEARTBEAT_LUA, LIVE_WORKERS_LUA, REGISTER_WORKER_LUA, SEND_COMMAND_LUA } from './workers.js';

/** Every function of the library, by name: the body each runs after begin(ARGV). */
const BODIES = {
  enqueue: ENQUEUE_LUA,
  claim: CLAIM_LUA,
  end_wait: END_WAIT_LUA,
  complete: COMPLETE_LUA,
  complete_and_claim: COMPLETE_AND_CLAIM_LUA,
  fail: FAIL_LUA,
  cancel: CANCEL_LUA,
  reschedule: RESCHEDULE_LUA,
  extend_lease: EXTEND_LEASE_LUA,
  recover_expired: RECOVER_LUA,
  listen: LISTEN_LUA,
  migrate: MIGRATE_LUA,
  list_state: LIST_STATE_LUA,
  read_jobs: READ_JOBS_LUA,
  remove_jobs: REMOVE_JOBS_LUA,
  retry_job: RETRY_JOB_LUA,
  set_paused: SET_PAUSED_LUA,
  set_progress: SET_PROGRESS_LUA,
  save_schedule: SAVE_SCHEDULE_LUA,
  fire_schedule: FIRE_SCHEDULE_LUA,
  advance_schedule: ADVANCE_SCHEDULE_LUA,
  pause_schedule: PAUSE_SCHEDULE_LUA,
  register_worker: REGISTER_WORKER_LUA,
  heartbeat: HEARTBEAT_LUA,
  live_workers: LIVE_WORKERS_LUA,
  send_command: SEND_COMMAND_LUA,
  list_groups: LIST_GROUPS_LUA,
} as const;

/** A function of the library. */
export type FunctionName = keyof typeof BODIES;

const CODE = `${COMMON_LUA}${GROUP_STATE_LUA}${FLUSH_LUA}${DELIVERY_STEPS_LUA}${CLAIM_FN}${HAND_OFF_FN}${ENQUEUE_FN}${COMPLETE_FN}${ROWS_FN}
${Object.entries(BODIES)
  .map(([name, body]) => `redis.register_function('@@PREFIX@@${name}', function(KEYS, ARGV)\nbegin(ARGV)\n${body}\nend)`)
  .join('\n')}
`;

/**
 * The Redis Functions library that holds every script: its helpers are defined once, when Redis loads
 * it, not on every call as a script's would be. Its name carries a hash of its code, so processes of
 * different versions sharing one Redis each call their own.
 */
export const LIBRARY = (() => {
  const version = createHash('sha1').update(CODE).digest('hex').slice(0, 12);
  const prefix = `skq_${version}_`;
  return {
    name: `skq_${version}`,
    prefix,
    code: `#!lua name=skq_${version}\n${CODE.replaceAll('@@PREFIX@@', prefix)}`,
  };
})();
