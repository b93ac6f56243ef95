// The application face of skunq: what the README documents, and nothing else.
// What backends and workers need is in '@skq/core/backend'.
export { isSkqError, RateLimited, RetryAfter, type SerializedError, SKQ_ERROR_CODES, SkqError, type SkqErrorCode, type SkqErrorContext, UnrecoverableError } from './errors.js';
export { consoleLogger, type ConsoleLoggerOptions, createConsoleLogger, formatLogLine, type Logger, type LogLevel, type LogMeta } from './logger.js';
export { type Duration, type When } from './delay.js';
export { AimdInterval, RtoInterval, SlowStartInterval } from './schedule/adaptive-interval.js';
export { AIMDScheduler, type Recurrence, RTOScheduler, SlowStartScheduler, TimeScheduler, type TimeSchedulerOptions } from './schedule/schedulers.js';
export { type Delivery, type JobEvent, type JobEventType, type JobRecord, type JobState, type LogLine, type ScheduleRecord, type ScheduleRule, type StateCounts, type WorkerInfo } from './storage/contract.js';
export { type WorkerCommandName } from './storage/worker-commands.js';
export { type RetryOptions } from './job/retry-policy.js';
export { currentJob, type JobContext } from './job/context.js';
export { type FireOptions } from './job/invocation.js';
export { JobMixin } from './job/job-mixin.js';
export { JobDefinition, type JobHandler, type JobOptions } from './job/define-job.js';
export { type ShellOptions, type ShellResult } from './job/shell-task.js';
export { type CallOptions } from './job/module-task.js';
export { type DeliveryInfo, JobHandle } from './job/job-handle.js';
export { type QueueOptions } from './queue/queue-options.js';
export { SkunkQueue } from './queue/skunk-queue.js';
export { type JobPage, type ListQuery } from './queue/job-listing.js';
export { type CleanQuery, type RetryAllQuery } from './queue/job-admin.js';
export { type GroupsQuery } from './queue/group-limits.js';
export { type GroupInfo, type GroupLimits, type GroupPage, type RateLimit, type RouteLimits } from './storage/group-records.js';
export { type EventStreamOptions } from './queue/queue-events.js';
export { type CommandOptions, type CommandOutcome } from './queue/worker-control.js';
export { type AsEventOptions } from './queue/call-recorder.js';
