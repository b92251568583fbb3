;; Counts line feeds in memory[0, len), 16 bytes at a time (WebAssembly SIMD): the independent
;; line count of a load reads every byte of its files, and a JavaScript loop over them cost a core
;; as many seconds as the engine's scan of a 9 GB CSV took in all. Alongside, the blank lines:
;; "\n\n" and "\n\r\n" whose first byte lies in [0, len).
;;
;; The caller writes the bytes at 0 and zeroes the 32 bytes after them: the last block and the
;; loads one and two bytes ahead read there.
;;
;; line-feeds.ts holds this module assembled (src/connectors/sources/line-feeds.test.ts checks it
;; is this text's, with wabt).
(module
  (memory (export "memory") 17)
  (global $blank_lf (export "blank_lf") (mut i32) (i32.const 0))
  (global $blank_crlf (export "blank_crlf") (mut i32) (i32.const 0))
  (func (export "count") (param $len i32) (result i32)
    (local $at i32)
    (local $lf i32)
    (local $pairs i32)
    (local $triples i32)
    (local $here v128)
    (local $next_lf v128)
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $at) (local.get $len)))
        (local.set $here (i8x16.eq (v128.load (local.get $at)) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10)))
        (local.set $next_lf (i8x16.eq (v128.load offset=1 (local.get $at)) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10)))
        (local.set $lf (i32.add (local.get $lf) (i32.popcnt (i8x16.bitmask (local.get $here)))))
        (local.set $pairs (i32.add (local.get $pairs) (i32.popcnt (i8x16.bitmask (v128.and (local.get $here) (local.get $next_lf))))))
        (local.set $triples
          (i32.add
            (local.get $triples)
            (i32.popcnt
              (i8x16.bitmask
                (v128.and
                  (v128.and (local.get $here) (i8x16.eq (v128.load offset=1 (local.get $at)) (v128.const i8x16 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13)))
                  (i8x16.eq (v128.load offset=2 (local.get $at)) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10)))))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $block)))
    (global.set $blank_lf (local.get $pairs))
    (global.set $blank_crlf (local.get $triples))
    (local.get $lf)))
