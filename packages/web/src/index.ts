export { Monitor, createMonitor } from './monitor.js';
export { MonitorOptionsSchema, type MonitorOptions } from './monitor-options.js';
export { startMonitorServer, MonitorServerOptionsSchema, type MonitorServer, type MonitorServerOptions } from './monitor-server.js';
export { generateToken } from './auth.js';
export type { TriggerPositionView, TriggerPositionsProvider } from './trigger-positions.js';
