/** The gallery API the app and CLI use: the interface, opening one by location, and id/name rules. */
export * from './types.js';
export { openGallery, resolveGalleryLocation, isPostgresUrl, type OpenGalleryOptions } from './open.js';
export { validateId, isValidId, validateDisplayName } from '../store/validate.js';
