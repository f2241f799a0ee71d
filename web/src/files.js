// files.js - the "My files" panel: the objects under the user's own prefix
// <identity id>/ in the uploads bucket. The identity pool's default role
// allows exactly that prefix, so the list, the uploads, the presigned
// downloads and the deletes all run with the user's own credentials.

import { ListObjectsV2Command, PutObjectCommand, DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { busy, showError, clearError, setStatus, formatBytes } from './ui.js';
import { serviceMessage } from './errors.js';

const MAX_NAME = 200;
const LINK_SECONDS = 300;
// Presigned links last 5 minutes; the list is signed afresh before that.
const RESIGN_MS = 4 * 60 * 1000;
const MAX_LISTED = 1000;

// root: the signed-in screen; cfg: the settings; identityId: the user's
// identity id; s3: () => the session's S3Client. Returns { stop }.
export function filesPanel(root, cfg, identityId, s3) {
  const bucket = cfg.uploadsBucket;
  const prefix = `${identityId}/`;
  const form = root.querySelector('#upload-form');
  const input = form.querySelector('#upload-file');
  const progress = form.querySelector('#upload-progress');
  const uploadStatus = form.querySelector('#upload-status');
  const list = root.querySelector('[data-testid="file-list"]');
  const empty = root.querySelector('.files-empty');
  const refreshButton = root.querySelector('#files-refresh');
  let names = [];
  let timer = 0;

  root.querySelector('.files-prefix').textContent = `${prefix}`;

  async function listAll() {
    const objects = [];
    let token;
    do {
      const page = await s3().send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      objects.push(...(page.Contents || []));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token && objects.length < MAX_LISTED);
    return objects;
  }

  function item(obj, url) {
    const name = obj.Key.slice(prefix.length);
    const li = document.createElement('li');
    const id = `file-${Math.random().toString(36).slice(2, 10)}`;
    const label = document.createElement('span');
    label.className = 'file-name';
    label.id = id;
    label.textContent = name;
    const size = document.createElement('span');
    size.className = 'file-size muted';
    size.textContent = formatBytes(obj.Size || 0);
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.textContent = 'Download';
    link.setAttribute('aria-describedby', id);
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'small danger';
    del.textContent = 'Delete';
    del.setAttribute('aria-label', `Delete ${name}`);
    del.dataset.key = obj.Key;
    const actions = document.createElement('span');
    actions.className = 'file-actions';
    actions.append(link, del);
    li.append(label, size, actions);
    return li;
  }

  // Lists the prefix and redraws the list with fresh presigned links.
  async function refresh() {
    clearTimeout(timer);
    try {
      const objects = await listAll();
      const urls = await Promise.all(
        objects.map((o) =>
          getSignedUrl(s3(), new GetObjectCommand({ Bucket: bucket, Key: o.Key }), { expiresIn: LINK_SECONDS }),
        ),
      );
      names = objects.map((o) => o.Key.slice(prefix.length));
      list.replaceChildren(...objects.map((o, i) => item(o, urls[i])));
      empty.hidden = objects.length > 0;
    } catch (err) {
      showError(`Could not list your files: ${serviceMessage(err)}`);
    } finally {
      if (list.isConnected) {
        timer = setTimeout(refresh, RESIGN_MS);
      }
    }
  }

  function say(text) {
    uploadStatus.textContent = text;
    setStatus(text);
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      const file = input.files && input.files[0];
      if (!file) {
        input.focus();
        showError('Choose a file first.');
        return;
      }
      if (file.name.includes('/')) {
        showError('File names cannot contain "/". Rename the file and try again.');
        return;
      }
      if (file.name.length > MAX_NAME) {
        showError(`File names can be at most ${MAX_NAME} characters; this one has ${file.name.length}.`);
        return;
      }
      clearError();
      const replacing = names.includes(file.name);
      progress.hidden = false;
      say(`Uploading ${file.name} (${formatBytes(file.size)})…`);
      try {
        const body = new Uint8Array(await file.arrayBuffer());
        await s3().send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: prefix + file.name,
            Body: body,
            ContentType: file.type || 'application/octet-stream',
          }),
        );
        say(`Uploaded ${file.name}${replacing ? ' (replacing the earlier one)' : ''}.`);
        form.reset();
        await refresh();
      } catch (err) {
        say('');
        showError(`Could not upload ${file.name}: ${serviceMessage(err)}`);
      } finally {
        progress.hidden = true;
      }
    });
  });

  list.addEventListener('click', (e) => {
    const btn = e.target.closest('button[data-key]');
    if (!btn) {
      return;
    }
    const key = btn.dataset.key;
    const name = key.slice(prefix.length);
    const li = btn.closest('li');
    busy(li, async () => {
      clearError();
      const next = li.nextElementSibling || li.previousElementSibling;
      const nextKey = next && next.querySelector('button[data-key]').dataset.key;
      try {
        await s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        say(`Deleted ${name}.`);
      } catch (err) {
        showError(`Could not delete ${name}: ${serviceMessage(err)}`);
        return;
      }
      await refresh();
      // Keep the keyboard focus in the list: on the neighbour, else the
      // file input.
      const target = nextKey && [...list.querySelectorAll('button[data-key]')].find((b) => b.dataset.key === nextKey);
      (target || input).focus();
    });
  });

  refreshButton.addEventListener('click', () => {
    clearError();
    refresh();
  });

  refresh();
  return {
    stop() {
      clearTimeout(timer);
    },
  };
}
