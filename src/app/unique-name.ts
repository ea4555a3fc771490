/** File names that stay apart when photos from different folders share a name (photo.jpg, photo-2.jpg…). */

/** `stem + suffix`, else `stem-2 + suffix`, `stem-3 + suffix`…: the first not in `used`, which it joins. */
export function uniqueName(used: Set<string>, stem: string, suffix: string): string {
  let name = `${stem}${suffix}`;
  for (let k = 2; used.has(name); k++) name = `${stem}-${k}${suffix}`;
  used.add(name);
  return name;
}
