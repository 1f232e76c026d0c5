import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cyclonedxSbom, listNpmPackages, npmPurl, sbomOfDirectory } from '../../../src/verify/scan/sbom.js';

let root: string;
const put = async (path: string, body: unknown) => {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), typeof body === 'string' ? body : JSON.stringify(body));
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kgraph-sbom-'));
  // An image-like tree: the app's node_modules, a nested copy, a scoped package, npm's bundled deps.
  await put('app/package.json', { name: '@kgraph/app', version: '0.1.0' });
  await put('app/node_modules/fastify/package.json', { name: 'fastify', version: '5.0.0', license: 'MIT' });
  await put('app/node_modules/fastify/node_modules/semver/package.json', {
    name: 'semver',
    version: '7.5.0',
    license: 'ISC',
  });
  await put('app/node_modules/semver/package.json', { name: 'semver', version: '7.6.0', license: 'ISC' });
  await put('app/node_modules/@fastify/ajv-compiler/package.json', {
    name: '@fastify/ajv-compiler',
    version: '4.0.0',
    license: 'MIT',
  });
  await put('usr/local/lib/node_modules/npm/package.json', { name: 'npm', version: '10.8.2', license: 'Artistic-2.0' });
  await put('usr/local/lib/node_modules/npm/node_modules/semver/package.json', {
    name: 'semver',
    version: '7.6.0',
    license: 'ISC',
  });
  // Not packages: a .bin dir, a broken package.json, one without a version, a directory without one.
  await put('app/node_modules/.bin/fastify', '#!/bin/sh\n');
  await put('app/node_modules/broken/package.json', '{ not json');
  await put('app/node_modules/noversion/package.json', { name: 'noversion' });
  await mkdir(join(root, 'app/node_modules/empty'), { recursive: true });
  // A workspace link back into the tree is not followed (it would list the target twice).
  await symlink(join(root, 'app'), join(root, 'app/node_modules/linked'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('listNpmPackages', () => {
  it('lists every installed package once per name@version, with every place it sits', async () => {
    const pkgs = await listNpmPackages(root);
    expect(pkgs.map((p) => `${p.name}@${p.version}`)).toEqual([
      '@fastify/ajv-compiler@4.0.0',
      'fastify@5.0.0',
      'npm@10.8.2',
      'semver@7.5.0',
      'semver@7.6.0',
    ]);
    expect(pkgs.find((p) => p.version === '7.6.0')?.paths).toEqual([
      'app/node_modules/semver',
      'usr/local/lib/node_modules/npm/node_modules/semver',
    ]);
    expect(pkgs.find((p) => p.name === 'npm')?.license).toBe('Artistic-2.0');
  });
  it('is empty for a tree without node_modules', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'kgraph-sbom-empty-'));
    try {
      expect(await listNpmPackages(empty)).toEqual([]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('cyclonedxSbom', () => {
  it('encodes scoped names in purls', () => {
    expect(npmPurl('@fastify/ajv-compiler', '4.0.0')).toBe('pkg:npm/%40fastify/ajv-compiler@4.0.0');
    expect(npmPurl('semver', '7.6.0')).toBe('pkg:npm/semver@7.6.0');
  });

  it('writes a CycloneDX 1.6 document that passes the schema, listing every package as a library', async () => {
    const { json, packages } = await sbomOfDirectory(root, {
      name: 'kgraph-mcp',
      version: 'sha256:abc',
      type: 'container',
      properties: { 'kgraph:base': 'node:22' },
    });
    expect(await new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6).validate(json)).toBeNull();
    const doc = JSON.parse(json) as {
      bomFormat: string;
      specVersion: string;
      metadata: { component: { type: string; name: string; properties: { name: string; value: string }[] } };
      components: { type: string; name: string; group?: string; version: string; purl: string; licenses?: unknown[] }[];
      dependencies: { ref: string; dependsOn?: string[] }[];
    };
    expect(doc.bomFormat).toBe('CycloneDX');
    expect(doc.specVersion).toBe('1.6');
    expect(doc.metadata.component).toMatchObject({
      type: 'container',
      name: 'kgraph-mcp',
      properties: [{ name: 'kgraph:base', value: 'node:22' }],
    });
    expect(doc.components.map((c) => c.purl).sort()).toEqual(packages.map((p) => npmPurl(p.name, p.version)).sort());
    expect(doc.components.every((c) => c.type === 'library')).toBe(true);
    expect(doc.components.find((c) => c.name === 'ajv-compiler')).toMatchObject({
      group: '@fastify',
      version: '4.0.0',
      licenses: [{ license: { id: 'MIT' } }],
    });
    // The subject depends on every listed package, so a consumer can walk from it.
    expect(doc.dependencies.find((d) => d.ref === 'subject')?.dependsOn).toHaveLength(packages.length);
  });

  it('records SPDX expressions as expressions and anything else as a named license', () => {
    const json = cyclonedxSbom(
      [
        { name: 'a', version: '1.0.0', paths: ['node_modules/a'], license: '(MIT OR Apache-2.0)' },
        { name: 'b', version: '1.0.0', paths: ['node_modules/b'], license: 'SEE LICENSE IN LICENSE.txt' },
        { name: 'c', version: '1.0.0', paths: ['node_modules/c'], license: 'MIT AND' },
      ],
      { name: 's' },
    );
    const doc = JSON.parse(json) as { components: { name: string; licenses: unknown[] }[] };
    const lic = (n: string) => doc.components.find((c) => c.name === n)?.licenses[0];
    expect(lic('a')).toEqual({ expression: '(MIT OR Apache-2.0)' });
    expect(lic('b')).toEqual({ license: { name: 'SEE LICENSE IN LICENSE.txt' } });
    expect(lic('c')).toEqual({ license: { name: 'MIT AND' } });
  });
});
