// 32-bit string hashing shared by the consistent-hash ring and the affinity cookie token: FNV-1a
// over UTF-16 code units, then murmur3's finalizer (FNV alone clusters on similar strings such as
// "10.0.0.1:80#1", "10.0.0.1:80#2").
export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
