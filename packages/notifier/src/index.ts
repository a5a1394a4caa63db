export * from './notifier.js';
export * from './payload.js';
export * from './signature.js';
export * from './webhooks.js';
export { notifierScripts, type NotifierScripts, type NotifierScriptName } from './scripts.js';
export { fieldsOf, streamEntries, type StreamEntry } from './stream.js';
