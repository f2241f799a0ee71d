// build.mjs - builds cloudlet's client app from web/src into web/dist:
//   index.html              from src/index.html, naming the hashed assets
//   assets/app-HASH.js      the bundle (ESM, ES2020, minified) + .js.map
//   assets/app-HASH.css     the styles + .css.map
// plus .gz and .br siblings of the JS and CSS, which cloudlet's website
// serves to clients that accept them, and the bundled license notices
// (assets/app-HASH.js.LEGAL.txt). Usage: node web/build.mjs

import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

const web = dirname(fileURLToPath(import.meta.url));
const src = join(web, 'src');
const dist = join(web, 'dist');
const assets = join(dist, 'assets');
const PLACEHOLDER = '<!-- assets -->';

function kib(n) {
  return `${(n / 1024).toFixed(1).padStart(7)} KiB`;
}

async function main() {
  const started = performance.now();
  await rm(dist, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });

  const result = await build({
    absWorkingDir: web,
    entryPoints: { app: join(src, 'main.js') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    platform: 'browser',
    format: 'esm',
    target: 'es2020',
    charset: 'utf8',
    legalComments: 'linked',
    define: { 'process.env.NODE_ENV': '"production"' },
    metafile: true,
    logLevel: 'warning',
  });

  // The entry's JS and the CSS it imports, from the metafile.
  let js = null;
  let css = null;
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint && file.endsWith('.js')) {
      js = file;
      css = meta.cssBundle || null;
    }
  }
  if (!js || !css) {
    throw new Error('esbuild produced no app-*.js or app-*.css');
  }
  const url = (file) => `assets/${basename(file)}`;

  const template = await readFile(join(src, 'index.html'), 'utf8');
  if (!template.includes(PLACEHOLDER)) {
    throw new Error(`src/index.html lacks ${PLACEHOLDER}`);
  }
  const tags = `<link rel="stylesheet" href="${url(css)}">\n<script type="module" src="${url(js)}"></script>`;
  await writeFile(join(dist, 'index.html'), template.replace(PLACEHOLDER, tags));

  // Precompressed siblings, and the size report.
  const rows = [];
  for (const file of [js, css, 'dist/index.html']) {
    const path = join(web, file);
    const bytes = await readFile(path);
    const gz = gzipSync(bytes, { level: 9 });
    const br = brotliCompressSync(bytes, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: 10, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    });
    if (file !== 'dist/index.html') {
      await writeFile(`${path}.gz`, gz);
      await writeFile(`${path}.br`, br);
    }
    rows.push([relative(join(web, '..'), path), bytes.length, gz.length, br.length]);
  }
  const ms = Math.round(performance.now() - started);
  console.log(`${'file'.padEnd(36)}${'raw'.padStart(11)}${'gzip'.padStart(11)}${'brotli'.padStart(11)}`);
  for (const [name, raw, gz, br] of rows) {
    console.log(`${name.padEnd(36)}${kib(raw)}${kib(gz)}${kib(br)}`);
  }
  const total = rows.reduce((t, r) => [t[0] + r[1], t[1] + r[2], t[2] + r[3]], [0, 0, 0]);
  console.log(`${'total'.padEnd(36)}${kib(total[0])}${kib(total[1])}${kib(total[2])}`);
  console.log(`web/dist built in ${ms} ms`);
}

main().catch((err) => {
  console.error(`web/build.mjs: ${err.message}`);
  process.exit(1);
});
