import { useEffect, useRef, useState } from 'preact/hooks';
import { AVATAR_PX, avatarColour, type FileRef, initials, MAX_NAME_CHARS } from '../engine/index.js';
import { useActions, useAppState } from './hooks.js';

/**
 * The picked picture, centre-cropped to a square and drawn at most AVATAR_PX a side in a canvas,
 * re-encoded as JPEG: whatever the file held (metadata, location, a huge size) does not travel.
 */
export async function resizeAvatar(file: Blob): Promise<{ bytes: Uint8Array; mime: string }> {
  const img = await createImageBitmap(file);
  try {
    const side = Math.min(img.width, img.height);
    const out = Math.min(AVATAR_PX, side);
    const canvas = document.createElement('canvas');
    canvas.width = out;
    canvas.height = out;
    const g = canvas.getContext('2d');
    if (!g) throw new Error('This browser cannot resize pictures.');
    g.drawImage(img, (img.width - side) / 2, (img.height - side) / 2, side, side, 0, 0, out, out);
    const blob = await new Promise<Blob | null>((r) => canvas.toBlob(r, 'image/jpeg', 0.85));
    if (!blob) throw new Error('The picture could not be encoded.');
    return { bytes: new Uint8Array(await blob.arrayBuffer()), mime: 'image/jpeg' };
  } finally {
    img.close();
  }
}

/** A blob: URL for image bytes, revoked when they change or the view goes. */
function useObjectUrl(bytes: Uint8Array | null | undefined, mime: string): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!bytes) {
      setUrl(null);
      return;
    }
    const u = URL.createObjectURL(new Blob([bytes as BlobPart], { type: mime }));
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [bytes, mime]);
  return url;
}

/** A contact's avatar bytes (kept on this device, or fetched and checked against their digest). */
function useAttachmentBytes(ref: FileRef | null | undefined): Uint8Array | null {
  const a = useActions();
  const [bytes, setBytes] = useState<Uint8Array | null>(null);
  useEffect(() => {
    setBytes(null);
    if (!ref) return;
    let live = true;
    a.attachment(ref)
      .then((b) => live && setBytes(b))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [ref?.id, a]);
  return bytes;
}

/**
 * A round avatar: the picture when there is one, else initials on a colour derived from the user
 * id. Decorative (aria-hidden): the name beside it says who it is.
 */
export function Avatar({
  userId,
  name,
  file,
  bytes,
  size = 40,
}: {
  userId: string;
  name: string;
  file?: FileRef | null;
  bytes?: Uint8Array | null;
  size?: number;
}) {
  const fetched = useAttachmentBytes(bytes === undefined ? file : null);
  const url = useObjectUrl(bytes ?? fetched, file?.mime ?? 'image/jpeg');
  const style = { width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.4)}px` };
  if (url) return <img class="avatar" src={url} alt="" aria-hidden="true" style={style} data-testid="avatar-img" />;
  return (
    <span class="avatar initials" aria-hidden="true" style={{ ...style, background: avatarColour(userId) }}>
      {initials(name)}
    </span>
  );
}

/** Settings → Profile: the display name and picture contacts see. */
export function ProfileSettings() {
  const s = useAppState();
  const a = useActions();
  const p = s.profile;
  const [name, setName] = useState(p?.name ?? '');
  const [picked, setPicked] = useState<{ bytes: Uint8Array; mime: string } | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  useEffect(() => setName(p?.name ?? ''), [p?.at]);
  const preview = picked === undefined ? (p?.avatar ?? null) : (picked?.bytes ?? null);
  const dirty = name.trim() !== (p?.name ?? '') || picked !== undefined;
  return (
    <section aria-labelledby="set-profile">
      <h3 id="set-profile">Profile</h3>
      <form
        class="profile-form"
        onSubmit={async (e) => {
          e.preventDefault();
          await a.setProfile(name, picked);
          setPicked(undefined);
          setSaved(true);
        }}
      >
        <div class="profile-row">
          <Avatar userId={s.me?.userId ?? ''} name={name || s.me?.username || ''} bytes={preview} size={64} />
          <div class="profile-pic">
            <input
              ref={fileInput}
              id="avatar-file"
              hidden
              aria-label="Profile picture file"
              type="file"
              accept="image/png,image/jpeg,image/webp,image/gif"
              onChange={async (e) => {
                const f = e.currentTarget.files?.[0];
                e.currentTarget.value = '';
                if (!f) return;
                try {
                  setPicked(await resizeAvatar(f));
                  setError(null);
                  setSaved(false);
                } catch {
                  setError('That file is not a picture this browser can read.');
                }
              }}
            />
            <button class="btn small" type="button" onClick={() => fileInput.current?.click()}>
              Choose picture
            </button>
            {preview && (
              <button class="btn small" type="button" onClick={() => setPicked(null)}>
                Remove picture
              </button>
            )}
          </div>
        </div>
        <div class="field">
          <label for="profile-name">Display name</label>
          <input
            id="profile-name"
            maxLength={MAX_NAME_CHARS}
            value={name}
            placeholder={s.me?.username}
            aria-describedby="profile-hint"
            onInput={(e) => {
              setName(e.currentTarget.value);
              setSaved(false);
            }}
          />
          <p id="profile-hint" class="hint">
            Sent end-to-end encrypted to your contacts only. Your username stays {s.me?.username}.
          </p>
        </div>
        {error && (
          <p class="notice" role="alert">
            {error}
          </p>
        )}
        <button class="btn primary small" type="submit" disabled={!dirty || s.busy}>
          Save profile
        </button>
        <span role="status" class="hint">
          {saved && !dirty ? 'Saved and sent to your contacts, end-to-end encrypted.' : ''}
        </span>
      </form>
    </section>
  );
}
