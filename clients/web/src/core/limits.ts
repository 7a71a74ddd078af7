/** An app-lock passphrase shorter than this is refused (it only guards a stolen disk image, but still). */
export const MIN_PASSPHRASE_CHARS = 8;
