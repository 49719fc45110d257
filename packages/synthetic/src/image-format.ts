/** The image formats the synthetic site serves, with their MIME types and file extensions. */
export const IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'gif'] as const

export type ImageFormat = (typeof IMAGE_FORMATS)[number]

export const IMAGE_MIME_TYPES: Readonly<Record<ImageFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
}

export const IMAGE_EXTENSIONS: Readonly<Record<ImageFormat, string>> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
}
