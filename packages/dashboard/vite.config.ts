import { defineConfig } from 'vite';

// The dashboard is served by the api from dist/ at `/` and `/status/<slug>`: asset URLs are
// absolute (`/assets/…`, hashed, cached as immutable by the api). `npm run dev` proxies the API.
const api = process.env.WEBMON_API_URL ?? 'http://127.0.0.1:8080';
const apiPaths = ['/session', '/assets', '/stats', '/jobs', '/clients', '/keys', '/whoami', '/maintenance', '/events', '/snapshots', '/status-pages', '/public', '/badge', '/plugins', '/health'];

export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, assetsDir: 'static', reportCompressedSize: true, target: 'es2022' },
  server: { proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: api, changeOrigin: false }])) },
});
