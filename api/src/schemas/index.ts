/**
 * Request and response schemas. Routes are defined by them: fastify validates and serialises
 * with them and the OpenAPI document under /docs is generated from them.
 */
import type { TSchema } from 'typebox';
import * as assets from './assets.js';
import * as clients from './clients.js';
import * as dashboard from './dashboard.js';
import { ErrorResponse } from './common.js';
import * as jobs from './jobs.js';
import * as maintenance from './maintenance.js';
import * as stats from './stats.js';
import * as system from './system.js';
import * as webhooks from './webhooks.js';
import * as channels from './channels.js';

export * from './assets.js';
export * from './clients.js';
export * from './dashboard.js';
export * from './common.js';
export * from './jobs.js';
export * from './maintenance.js';
export * from './stats.js';
export * from './system.js';
export * from './webhooks.js';
export * from './channels.js';

/** Every named component (a schema with an `$id`), registered once with the app and its validators. */
export const COMPONENTS: readonly TSchema[] = [ErrorResponse, ...[assets, jobs, stats, system, clients, maintenance, webhooks, channels, dashboard].flatMap((m) => Object.values(m).filter(isComponent))];

function isComponent(value: unknown): value is TSchema {
  return typeof value === 'object' && value !== null && typeof (value as { $id?: unknown }).$id === 'string';
}
