/**
 * What routes are given: the fastify instance type and the stores they work with. Kept apart
 * from app.ts, which builds them, so that routes never import the module that registers them.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AssetStore, ClientStore, Config, JobStore, Keys, Logger, MaintenanceStore, Principal, Redis, SessionStore, StatusPageStore } from '@webmon/core';
import type { ChannelStore, WebhookStore } from '@webmon/notifier';
import type { ChannelAgents, ChannelRegistry } from '@webmon/plugin-sdk';
import type { PluginRegistry } from '@webmon/plugin-sdk';
import type { AssetInputs } from './asset-input.js';

export interface JobSink {
  push(ids: readonly string[], priority: number): Promise<number>;
}

export interface ApiDeps {
  config: Readonly<Config>;
  /** A fail-fast connection (commands reject at once while Redis is away). */
  redis: Redis;
  log: Logger;
  registry: PluginRegistry;
  jobs: JobSink;
  /** The installed notification channel types (default: every channel folder under plugins/). */
  channels?: ChannelRegistry;
}

export interface ApiContext {
  config: Readonly<Config>;
  redis: Redis;
  registry: PluginRegistry;
  assets: AssetStore;
  jobStore: JobStore;
  clients: ClientStore;
  maintenance: MaintenanceStore;
  webhooks: WebhookStore;
  channels: ChannelStore;
  /** Connection pools of test-sends (closed with the api). */
  channelAgents: ChannelAgents;
  log: Logger;
  inputs: AssetInputs;
  sink: JobSink;
  keys: Keys;
  /** Dashboard sessions (cookie sign-in). */
  sessions: SessionStore;
  statusPages: StatusPageStore;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the API key belongs to; set only on routes registered through `authenticated` (auth.ts). */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** true: a successful call changes stored configuration and triggers a snapshot (snapshots.afterWrites). */
    snapshot?: boolean;
  }
}

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, TypeBoxTypeProvider>;

/** A set of routes, registered as a fastify plugin. */
export type Routes = (app: App) => Promise<void>;
