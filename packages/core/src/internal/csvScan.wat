;; The row counter's and the quote check's inner loops (`csvScan.ts`), 16 bytes at a time with
;; WebAssembly SIMD. `csvScanWasm.ts` holds this module compiled; `node scripts/build-wasm.mjs`
;; rebuilds it after a change, and a test checks that the two agree.
;;
;; Memory: the bytes to scan are copied to offset 0 (at most 65,536 at a time); loads may read up to
;; 15 bytes past them (the second page), and those lanes are masked off.
(module
  (memory (export "memory") 2)
  ;; The state after the last `count`, read back by the caller: inside quotes (0/1); whether the two
  ;; bytes before the next one are LFs outside quotes (bit 1: the last byte, bit 0: the one before;
  ;; the start of the input counts as one); whether they are CRs (same bits); and how many bytes
  ;; follow the last LF outside quotes (capped at 2^30).
  (global $quoted (export "quoted") (mut i32) (i32.const 0))
  (global $carryR (export "carryR") (mut i32) (i32.const 2))
  (global $carryC (export "carryC") (mut i32) (i32.const 0))
  (global $since (export "since") (mut i32) (i32.const 0))

  ;; Lines ended by a LF outside quotes in the first $n bytes, not counting a line that is empty
  ;; or only a CR, given the state before them; leaves the state after them in the globals.
  (func (export "count") (param $n i32) (param $quoted0 i32) (param $carryR0 i32) (param $carryC0 i32)
    (param $since0 i32) (result i32)
    (local $i i32) (local $k i32) (local $rows i32) (local $v v128)
    (local $q i32) (local $l i32) (local $c i32) (local $p i32) (local $r i32)
    (local $re i32) (local $ce i32) (local $valid i32)
    (local $quoted i32) (local $cr i32) (local $cc i32) (local $since i32)
    (local.set $quoted (local.get $quoted0))
    (local.set $cr (local.get $carryR0))
    (local.set $cc (local.get $carryC0))
    (local.set $since (local.get $since0))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $k (i32.sub (local.get $n) (local.get $i)))
        (if (i32.ge_u (local.get $k) (i32.const 16))
          (then (local.set $k (i32.const 16)) (local.set $valid (i32.const 0xffff)))
          (else (local.set $valid (i32.sub (i32.shl (i32.const 1) (local.get $k)) (i32.const 1)))))
        (local.set $v (v128.load (local.get $i)))
        (local.set $q (i32.and (local.get $valid)
          (i8x16.bitmask (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x22))))))
        (local.set $l (i32.and (local.get $valid)
          (i8x16.bitmask (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x0a))))))
        (local.set $c (i32.and (local.get $valid)
          (i8x16.bitmask (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x0d))))))
        (if (i32.eqz (local.get $l))
          (then
            (local.set $cr (i32.and (i32.shr_u (local.get $cr) (local.get $k)) (i32.const 3)))
            (local.set $cc (i32.and (i32.shr_u
              (i32.or (i32.shl (local.get $c) (i32.const 2)) (local.get $cc)) (local.get $k)) (i32.const 3)))
            (local.set $since (i32.add (local.get $since) (local.get $k)))
            (if (i32.gt_u (local.get $since) (i32.const 0x40000000))
              (then (local.set $since (i32.const 0x40000000)))))
          (else
            (local.set $p (local.get $q))
            (local.set $p (i32.xor (local.get $p) (i32.shl (local.get $p) (i32.const 1))))
            (local.set $p (i32.xor (local.get $p) (i32.shl (local.get $p) (i32.const 2))))
            (local.set $p (i32.xor (local.get $p) (i32.shl (local.get $p) (i32.const 4))))
            (local.set $p (i32.xor (local.get $p) (i32.shl (local.get $p) (i32.const 8))))
            ;; an LF is outside quotes where the quote state before it (the carried state XOR the
            ;; prefix parity of this block's quotes) is 0
            (local.set $r (i32.and (local.get $l)
              (i32.xor (i32.xor (local.get $p) (i32.sub (i32.const 0) (local.get $quoted))) (i32.const -1))))
            (local.set $re (i32.or (i32.shl (local.get $r) (i32.const 2)) (local.get $cr)))
            (local.set $ce (i32.or (i32.shl (local.get $c) (i32.const 2)) (local.get $cc)))
            (local.set $rows (i32.add (local.get $rows) (i32.popcnt (i32.and (local.get $r)
              (i32.xor (i32.const -1) (i32.or
                (i32.shr_u (local.get $re) (i32.const 1))
                (i32.and (i32.shr_u (local.get $ce) (i32.const 1)) (local.get $re))))))))
            (local.set $cr (i32.and (i32.shr_u (local.get $re) (local.get $k)) (i32.const 3)))
            (local.set $cc (i32.and (i32.shr_u (local.get $ce) (local.get $k)) (i32.const 3)))
            (if (local.get $r)
              (then (local.set $since (i32.sub (i32.sub (local.get $k) (i32.const 1))
                (i32.sub (i32.const 31) (i32.clz (local.get $r))))))
              (else (local.set $since (i32.add (local.get $since) (local.get $k)))))))
        (local.set $quoted (i32.xor (local.get $quoted) (i32.and (i32.popcnt (local.get $q)) (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $blocks)))
    (global.set $quoted (local.get $quoted))
    (global.set $carryR (local.get $cr))
    (global.set $carryC (local.get $cc))
    (global.set $since (local.get $since))
    (local.get $rows))

  ;; The parity of the quote bytes among the first $n: each 16-byte block's quote lanes are XORed
  ;; into one accumulator (a lane of it is set where that lane held an odd number of quotes).
  (func (export "quotes") (param $n i32) (result i32)
    (local $i i32) (local $full i32) (local $acc v128) (local $tail i32)
    (local.set $full (i32.and (local.get $n) (i32.const -16)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $i) (local.get $full)))
        (local.set $acc (v128.xor (local.get $acc)
          (i8x16.eq (v128.load (local.get $i)) (i8x16.splat (i32.const 0x22)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $blocks)))
    (if (i32.lt_u (local.get $full) (local.get $n))
      (then (local.set $tail (i32.and
        (i8x16.bitmask (i8x16.eq (v128.load (local.get $full)) (i8x16.splat (i32.const 0x22))))
        (i32.sub (i32.shl (i32.const 1) (i32.sub (local.get $n) (local.get $full))) (i32.const 1))))))
    (i32.and (i32.xor (i32.popcnt (i8x16.bitmask (local.get $acc))) (i32.popcnt (local.get $tail))) (i32.const 1))))
