// fs-ext ships no type declarations; these are the calls tsraft uses.
declare module 'fs-ext' {
  /** flock(2) on an open file descriptor; throws an errno error (EAGAIN/EWOULDBLOCK when a `nb` lock is held). */
  export function flockSync(fd: number, flags: 'sh' | 'ex' | 'shnb' | 'exnb' | 'un'): void;
}
