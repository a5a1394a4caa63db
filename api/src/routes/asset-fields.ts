/** `GET /assets?fields=`: which asset fields a listing returns, and which stored fields it reads for them. */
import { WebmonError, type AssetRecord } from '@webmon/core';
import { ASSET_FIELDS, type AssetOut } from '../schemas/index.js';

/** The stored fields each API field of an asset is made from (see presentAsset). */
const FIELD_SOURCES: Record<keyof AssetOut, Array<keyof AssetRecord>> = {
  id: ['id'],
  url: ['url'],
  owner: ['owner'],
  plugins: ['plugins'],
  config: ['config'],
  interval: ['interval'],
  tags: ['tags'],
  paused: ['paused'],
  state: ['state', 'maintenance'],
  stateReason: ['stateReason', 'maintenance'],
  stateChangedAt: ['stateChangedAt'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
  lastCheckAt: ['lastCheckAt'],
};

/** The fields a listing asks for (null: all), or WEBMON_ERR_VALIDATION naming an unknown one. */
export function selectedFields(spec: string | undefined): Array<keyof AssetOut> | null {
  if (spec === undefined) return null;
  const names = [...new Set(spec.split(','))];
  const unknown = names.find((n) => !(ASSET_FIELDS as string[]).includes(n));
  if (unknown !== undefined) {
    throw new WebmonError('WEBMON_ERR_VALIDATION', `querystring.fields: unknown field "${unknown}" (fields: ${ASSET_FIELDS.join(', ')})`, { field: unknown });
  }
  return names as Array<keyof AssetOut>;
}

/** The stored fields to read for these API fields. */
export function recordFields(fields: readonly (keyof AssetOut)[]): Array<keyof AssetRecord> {
  return [...new Set(fields.flatMap((f) => FIELD_SOURCES[f]))];
}

export function pick(a: AssetOut, fields: readonly (keyof AssetOut)[]): Partial<AssetOut> {
  return Object.fromEntries(fields.map((f) => [f, a[f]]));
}
