/**
 * The pre-migration backup Job as data, for environments whose database policy takes backups (prod): a
 * PersistentVolumeClaim for the store and a Job that runs `pg_dump -Fc` into it. The Job writes the same
 * layout as `kgraph-ci backup create` (`<id>.dump` and `<id>.json`, so `kgraph-ci backup verify|restore`
 * read what it wrote) and prints the manifest as one `KGRAPH_BACKUP_MANIFEST {json}` line that the deploy
 * reads from its log (ci/src/deliver/deploy/backup.ts). The deploy sets BACKUP_PRECEDES; unset, the Job refuses.
 */
import type { DatabasePolicy, EnvironmentDefinition } from '../../definitions/environments.js';

export const BACKUP_JOB_NAME = 'kgraph-mcp-backup';
/** The container env var the deploy fills with the migration the backup precedes. */
export const BACKUP_PRECEDES_VAR = 'BACKUP_PRECEDES';
export const BACKUP_TIMEOUT_SECONDS = 1800;

/**
 * POSIX sh over pg_dump, pg_restore and coreutils. Dump to a partial file, read it back, checksum, rename,
 * then the manifest: a dump that was not fully written never gets one, and `set -e` makes any failure (a
 * full or read-only volume, an unreachable database) exit non-zero without printing a manifest line.
 * The URL goes to pg_dump inside the Job's own pod only; nothing prints it (the manifest names host/db).
 */
export const BACKUP_SCRIPT = `set -eu
case "\${${BACKUP_PRECEDES_VAR}:-}" in
  ''|*[!A-Za-z0-9_]*) echo "${BACKUP_PRECEDES_VAR} must be a migration name (the deploy sets it)" >&2; exit 2 ;;
esac
stamp=$(date -u +%Y%m%dT%H%M%SZ)
created=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
id="$BACKUP_ENVIRONMENT-$stamp-$(printf %s "$${BACKUP_PRECEDES_VAR}" | cut -c1-80)"
part="$BACKUP_DIR/$id.dump.partial"
trap 'rm -f "$part"' EXIT
pg_dump --dbname="$DATABASE_URL" --format=custom --no-owner --no-privileges --file="$part"
verified=false
if pg_restore --list "$part" >/dev/null; then verified=true; fi
bytes=$(wc -c <"$part" | tr -d ' ')
sha=$(sha256sum "$part" | cut -d' ' -f1)
source=$(printf %s "$DATABASE_URL" | sed -E 's#^[a-z]+://([^@/]*@)?##; s#[?].*$##')
mv "$part" "$BACKUP_DIR/$id.dump"
manifest=$(printf '{"id":"%s","environment":"%s","source":"%s","precedes":"%s","createdAt":"%s","format":"custom","bytes":%s,"sha256":"%s","verified":%s}' "$id" "$BACKUP_ENVIRONMENT" "$source" "$${BACKUP_PRECEDES_VAR}" "$created" "$bytes" "$sha" "$verified")
printf '%s\\n' "$manifest" >"$BACKUP_DIR/$id.json"
ls -1t "$BACKUP_DIR"/*.json | tail -n +$((BACKUP_KEEP + 1)) | while read -r old; do rm -f "$old" "\${old%.json}.dump"; done
echo "KGRAPH_BACKUP_MANIFEST $manifest"
`;

type Backup = NonNullable<DatabasePolicy['backup']>;

export function backupClaim(backup: Backup): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: backup.storage.claimName },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: backup.storage.size } } },
  };
}

export function backupJob(def: EnvironmentDefinition, backup: Backup): Record<string, unknown> {
  const uid = 999; // the postgres user of the official image; fsGroup lets it write the volume
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: BACKUP_JOB_NAME },
    spec: {
      // One try: a second dump would be a different backup; the deploy refuses and a person looks.
      backoffLimit: 0,
      activeDeadlineSeconds: BACKUP_TIMEOUT_SECONDS,
      ttlSecondsAfterFinished: 86400,
      template: {
        metadata: { labels: { 'app.kubernetes.io/component': 'backup' } },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: 'kgraph-mcp',
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: uid,
            runAsGroup: uid,
            fsGroup: uid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'backup',
              image: backup.jobImage,
              command: ['sh', '-c', BACKUP_SCRIPT],
              env: [
                {
                  name: 'DATABASE_URL',
                  valueFrom: { secretKeyRef: { name: 'kgraph-mcp-secrets', key: 'DATABASE_URL' } },
                },
                { name: 'BACKUP_ENVIRONMENT', value: def.name },
                { name: 'BACKUP_DIR', value: backup.storage.mountPath },
                { name: 'BACKUP_KEEP', value: String(backup.keep) },
                { name: BACKUP_PRECEDES_VAR, value: '' },
              ],
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'backups', mountPath: backup.storage.mountPath },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'backups', persistentVolumeClaim: { claimName: backup.storage.claimName } },
            { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  };
}
