;; Whether memory[start, end) is one JSON object (RFC 8259), checked without building it: the
;; collector's check of every event it is sent. A string's plain bytes, most of an event, are
;; passed over 16 at a time (WebAssembly SIMD), where a JavaScript loop took a tenth of the
;; collector's time byte by byte. Nesting deeper than `max_depth` answers 0, as does anything else
;; it cannot vouch for; the caller then asks JSON.parse, whose verdict and words stand.
;;
;; memory[0, 4096) is the stack of open containers (1 an object, 0 an array), so `max_depth` is at
;; most 4096. The caller writes the bytes from 4096 on and zeroes the 16 bytes after them: a
;; string's block read may look there, and a zero byte ends the look.
;;
;; json-object.ts holds this module assembled (src/server/json-object.test.ts checks it is this
;; text's, with wabt).
(module
  (memory (export "memory") 2)

  ;; Past JSON whitespace (space, tab, line feed, carriage return) from `at`.
  (func $skip_space (param $at i32) (param $end i32) (result i32)
    (local $b i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $b (i32.load8_u (local.get $at)))
        (br_if $done
          (i32.and
            (i32.and (i32.ne (local.get $b) (i32.const 0x20)) (i32.ne (local.get $b) (i32.const 0x09)))
            (i32.and (i32.ne (local.get $b) (i32.const 0x0a)) (i32.ne (local.get $b) (i32.const 0x0d)))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $next)))
    (local.get $at))

  (func $is_digit (param $b i32) (result i32)
    (i32.lt_u (i32.sub (local.get $b) (i32.const 0x30)) (i32.const 10)))

  (func $is_hex (param $b i32) (result i32)
    (i32.or
      (call $is_digit (local.get $b))
      ;; a-f or A-F: the letter with its case bit set
      (i32.lt_u (i32.sub (i32.or (local.get $b) (i32.const 0x20)) (i32.const 0x61)) (i32.const 6))))

  ;; Past a string whose opening quote is before `at`; -1 if it is not one. Bytes of 0x80 and up
  ;; are taken as they come (the log keeps them; the job refuses what is not UTF-8).
  (func $skip_string (param $at i32) (param $end i32) (result i32)
    (local $mask i32)
    (local $b i32)
    (local $i i32)
    (loop $next
      ;; Plain bytes, 16 at a time: stop at a quote, a backslash or a control byte.
      (block $found
        (loop $block
          (local.set $mask
            (i8x16.bitmask
              (v128.or
                (i8x16.lt_u (v128.load (local.get $at)) (v128.const i8x16 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20))
                (v128.or
                  (i8x16.eq (v128.load (local.get $at)) (v128.const i8x16 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22 0x22))
                  (i8x16.eq (v128.load (local.get $at)) (v128.const i8x16 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c 0x5c))))))
          (br_if $found (local.get $mask))
          (local.set $at (i32.add (local.get $at) (i32.const 16)))
          (br $block)))
      (local.set $at (i32.add (local.get $at) (i32.ctz (local.get $mask))))
      (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const -1))))
      (local.set $b (i32.load8_u (local.get $at)))
      (local.set $at (i32.add (local.get $at) (i32.const 1)))
      (if (i32.eq (local.get $b) (i32.const 0x22)) (then (return (local.get $at))))
      (if (i32.lt_u (local.get $b) (i32.const 0x20)) (then (return (i32.const -1))))
      ;; A backslash: one of "\/bfnrt, or u and four hex digits.
      (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const -1))))
      (local.set $b (i32.load8_u (local.get $at)))
      (local.set $at (i32.add (local.get $at) (i32.const 1)))
      (if (i32.eq (local.get $b) (i32.const 0x75))
        (then
          (if (i32.gt_u (i32.add (local.get $at) (i32.const 4)) (local.get $end)) (then (return (i32.const -1))))
          (local.set $i (i32.const 0))
          (loop $hex
            (if (i32.eqz (call $is_hex (i32.load8_u (i32.add (local.get $at) (local.get $i))))) (then (return (i32.const -1))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $hex (i32.lt_u (local.get $i) (i32.const 4))))
          (local.set $at (i32.add (local.get $at) (i32.const 4))))
        (else
          (if (i32.eqz
                (i32.or
                  (i32.or
                    (i32.or (i32.eq (local.get $b) (i32.const 0x22)) (i32.eq (local.get $b) (i32.const 0x5c)))
                    (i32.or (i32.eq (local.get $b) (i32.const 0x2f)) (i32.eq (local.get $b) (i32.const 0x62))))
                  (i32.or
                    (i32.or (i32.eq (local.get $b) (i32.const 0x66)) (i32.eq (local.get $b) (i32.const 0x6e)))
                    (i32.or (i32.eq (local.get $b) (i32.const 0x72)) (i32.eq (local.get $b) (i32.const 0x74))))))
            (then (return (i32.const -1))))))
      (br $next))
    (i32.const -1))

  ;; Past the digits from `at`.
  (func $skip_digits (param $at i32) (param $end i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (br_if $done (i32.eqz (call $is_digit (i32.load8_u (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $next)))
    (local.get $at))

  ;; Past a number starting at `at`: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?; -1 if it is not one.
  (func $skip_number (param $at i32) (param $end i32) (result i32)
    (local $digits i32)
    (if (i32.eq (i32.load8_u (local.get $at)) (i32.const 0x2d)) (then (local.set $at (i32.add (local.get $at) (i32.const 1)))))
    (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const -1))))
    (if (i32.eqz (call $is_digit (i32.load8_u (local.get $at)))) (then (return (i32.const -1))))
    (if (i32.eq (i32.load8_u (local.get $at)) (i32.const 0x30))
      (then (local.set $at (i32.add (local.get $at) (i32.const 1))))
      (else (local.set $at (call $skip_digits (local.get $at) (local.get $end)))))
    (if (i32.and (i32.lt_u (local.get $at) (local.get $end)) (i32.eq (i32.load8_u (local.get $at)) (i32.const 0x2e)))
      (then
        (local.set $digits (i32.add (local.get $at) (i32.const 1)))
        (local.set $at (call $skip_digits (local.get $digits) (local.get $end)))
        (if (i32.eq (local.get $at) (local.get $digits)) (then (return (i32.const -1))))))
    (if (i32.and (i32.lt_u (local.get $at) (local.get $end)) (i32.eq (i32.or (i32.load8_u (local.get $at)) (i32.const 0x20)) (i32.const 0x65)))
      (then
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (if (i32.lt_u (local.get $at) (local.get $end))
          (then
            (if (i32.or (i32.eq (i32.load8_u (local.get $at)) (i32.const 0x2b)) (i32.eq (i32.load8_u (local.get $at)) (i32.const 0x2d)))
              (then (local.set $at (i32.add (local.get $at) (i32.const 1)))))))
        (local.set $digits (local.get $at))
        (local.set $at (call $skip_digits (local.get $at) (local.get $end)))
        (if (i32.eq (local.get $at) (local.get $digits)) (then (return (i32.const -1))))))
    (local.get $at))

  ;; Past the literal `word` (its bytes little-endian, `length` of them, 4 or fewer) at `at`; -1 if it is not there.
  (func $skip_word (param $at i32) (param $end i32) (param $word i32) (param $length i32) (result i32)
    (if (i32.gt_u (i32.add (local.get $at) (local.get $length)) (local.get $end)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load (local.get $at)) (local.get $word)) (then (return (i32.const -1))))
    (i32.add (local.get $at) (local.get $length)))

  (func (export "is_object") (param $start i32) (param $end i32) (param $max_depth i32) (result i32)
    (local $at i32)
    (local $b i32)
    (local $depth i32)
    (local $expect_key i32)
    (local $in_object i32)
    (local.set $at (call $skip_space (local.get $start) (local.get $end)))
    (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (local.get $at)) (i32.const 0x7b)) (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $max_depth) (i32.const 4096)) (then (local.set $max_depth (i32.const 4096))))
    ;; At each step a value is expected (after a colon, a comma in an array, an opening bracket) or
    ;; a key (after an opening brace or a comma in an object).
    (loop $step
      (local.set $at (call $skip_space (local.get $at) (local.get $end)))
      (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const 0))))
      (local.set $b (i32.load8_u (local.get $at)))
      (if (local.get $expect_key)
        (then
          (if (i32.ne (local.get $b) (i32.const 0x22)) (then (return (i32.const 0))))
          (local.set $at (call $skip_string (i32.add (local.get $at) (i32.const 1)) (local.get $end)))
          (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const 0))))
          (local.set $at (call $skip_space (local.get $at) (local.get $end)))
          (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const 0))))
          (if (i32.ne (i32.load8_u (local.get $at)) (i32.const 0x3a)) (then (return (i32.const 0))))
          (local.set $at (i32.add (local.get $at) (i32.const 1)))
          (local.set $expect_key (i32.const 0))
          (br $step)))
      ;; A value.
      (block $value_done
        (if (i32.or (i32.eq (local.get $b) (i32.const 0x7b)) (i32.eq (local.get $b) (i32.const 0x5b)))
          (then
            (if (i32.ge_u (local.get $depth) (local.get $max_depth)) (then (return (i32.const 0))))
            (i32.store8 (local.get $depth) (i32.eq (local.get $b) (i32.const 0x7b)))
            (local.set $depth (i32.add (local.get $depth) (i32.const 1)))
            (local.set $at (call $skip_space (i32.add (local.get $at) (i32.const 1)) (local.get $end)))
            ;; An empty container closes at once: ] is [ + 2, } is { + 2.
            (if (i32.and (i32.lt_u (local.get $at) (local.get $end)) (i32.eq (i32.load8_u (local.get $at)) (i32.add (local.get $b) (i32.const 2))))
              (then
                (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
                (local.set $at (i32.add (local.get $at) (i32.const 1)))
                (br $value_done)))
            (local.set $expect_key (i32.eq (local.get $b) (i32.const 0x7b)))
            (br $step)))
        (if (i32.eq (local.get $b) (i32.const 0x22))
          (then (local.set $at (call $skip_string (i32.add (local.get $at) (i32.const 1)) (local.get $end))) (br $value_done)))
        (if (i32.or (i32.eq (local.get $b) (i32.const 0x2d)) (call $is_digit (local.get $b)))
          (then (local.set $at (call $skip_number (local.get $at) (local.get $end))) (br $value_done)))
        ;; "true", "null", and "f" then "alse", little-endian.
        (if (i32.eq (local.get $b) (i32.const 0x74))
          (then (local.set $at (call $skip_word (local.get $at) (local.get $end) (i32.const 0x65757274) (i32.const 4))) (br $value_done)))
        (if (i32.eq (local.get $b) (i32.const 0x6e))
          (then (local.set $at (call $skip_word (local.get $at) (local.get $end) (i32.const 0x6c6c756e) (i32.const 4))) (br $value_done)))
        (if (i32.eq (local.get $b) (i32.const 0x66))
          (then (local.set $at (call $skip_word (i32.add (local.get $at) (i32.const 1)) (local.get $end) (i32.const 0x65736c61) (i32.const 4))) (br $value_done)))
        (return (i32.const 0)))
      (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const 0))))
      ;; After a value: a comma, or the close of its container (and of those it closes in turn).
      (loop $after
        (if (i32.eqz (local.get $depth))
          (then (return (i32.eq (call $skip_space (local.get $at) (local.get $end)) (local.get $end)))))
        (local.set $at (call $skip_space (local.get $at) (local.get $end)))
        (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const 0))))
        (local.set $b (i32.load8_u (local.get $at)))
        (local.set $in_object (i32.load8_u (i32.sub (local.get $depth) (i32.const 1))))
        (if (i32.eq (local.get $b) (i32.const 0x2c))
          (then
            (local.set $at (i32.add (local.get $at) (i32.const 1)))
            (local.set $expect_key (local.get $in_object))
            (br $step)))
        ;; } closes an object, ] an array.
        (if (i32.ne (local.get $b) (select (i32.const 0x7d) (i32.const 0x5d) (local.get $in_object))) (then (return (i32.const 0))))
        (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $after)))
    (i32.const 0)))
