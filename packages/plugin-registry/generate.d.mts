/** Types of generate.mjs (plain JavaScript: it runs before anything is built). */
export interface PluginPackage {
  /** Folder name under plugins/. */
  folder: string;
  /** Absolute path of the folder. */
  dir: string;
  packageName: string;
  /** The package's export that is the plugin ("default" for the default export). */
  exportName: string;
  order: number;
  hasTsconfig: boolean;
}

export function discoverPlugins(root: string): PluginPackage[];
/** The channel folders ("webmon": {"channel": true}), by folder name. */
export function discoverChannels(root: string): PluginPackage[];
export function renderInstalled(plugins: readonly PluginPackage[], channels?: readonly PluginPackage[]): string;
export function renderReferences(plugins: readonly PluginPackage[], outDir: string): string;
export function generateRegistry(options?: { root?: string; outDir?: string }): PluginPackage[];
