;; Inner-product kernels for the exact flat index (f32x4 SIMD).
;;
;; Layout contract (the TypeScript driver in wasm-kernel.ts guarantees it):
;;   * every vector is a row of `row_bytes` bytes, a multiple of 16 (the dimension is
;;     zero-padded to a multiple of 4 floats), rows are contiguous and 16-byte aligned;
;;   * `block_scores` takes a multiple of 4 queries and an even number of rows,
;;     `row_scores` a multiple of 4 rows (the driver pads and ignores the extra scores).
;;
;; Both functions give every (query, row) pair its own f32x4 accumulator, summed over the
;; row in the same order and reduced by $hsum, so a query scores bit-identically whether it
;; is searched alone or in a batch.
(module
  (memory (export "memory") 1 65536)

  ;; Horizontal sum of the four lanes: (l0 + l2) + (l1 + l3).
  (func $hsum (param $v v128) (result f32)
    (local.set $v
      (f32x4.add (local.get $v)
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v))))

  ;; Batched search: out[q * out_stride + r] = <query q, row r> for q < nq, r < n_rows.
  ;; Blocks of 4 queries x 2 rows: each loaded row chunk is used by 4 queries and each
  ;; query chunk by 2 rows, so 6 loads feed 8 multiply-adds (8 accumulators + 6 operands
  ;; fit the 16 SIMD registers).
  (func (export "block_scores")
    (param $q_ptr i32) (param $nq i32) (param $db_ptr i32) (param $n_rows i32)
    (param $row_bytes i32) (param $out_ptr i32) (param $out_stride i32)
    (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $r0 i32) (local $r1 i32) (local $j i32) (local $r i32) (local $qi i32)
    (local $out i32) (local $d0 v128) (local $d1 v128) (local $a v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (local.set $qi (i32.const 0))
    (block $queries_done
      (loop $queries
        (br_if $queries_done (i32.ge_u (local.get $qi) (local.get $nq)))
        (local.set $q0 (i32.add (local.get $q_ptr) (i32.mul (local.get $qi) (local.get $row_bytes))))
        (local.set $q1 (i32.add (local.get $q0) (local.get $row_bytes)))
        (local.set $q2 (i32.add (local.get $q1) (local.get $row_bytes)))
        (local.set $q3 (i32.add (local.get $q2) (local.get $row_bytes)))
        (local.set $r (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n_rows)))
            (local.set $r0 (i32.add (local.get $db_ptr) (i32.mul (local.get $r) (local.get $row_bytes))))
            (local.set $r1 (i32.add (local.get $r0) (local.get $row_bytes)))
            (local.set $s00 (v128.const i32x4 0 0 0 0)) (local.set $s01 (v128.const i32x4 0 0 0 0))
            (local.set $s10 (v128.const i32x4 0 0 0 0)) (local.set $s11 (v128.const i32x4 0 0 0 0))
            (local.set $s20 (v128.const i32x4 0 0 0 0)) (local.set $s21 (v128.const i32x4 0 0 0 0))
            (local.set $s30 (v128.const i32x4 0 0 0 0)) (local.set $s31 (v128.const i32x4 0 0 0 0))
            (local.set $j (i32.const 0))
            (loop $dims
              (local.set $d0 (v128.load (i32.add (local.get $r0) (local.get $j))))
              (local.set $d1 (v128.load (i32.add (local.get $r1) (local.get $j))))
              (local.set $a (v128.load (i32.add (local.get $q0) (local.get $j))))
              (local.set $s00 (f32x4.add (local.get $s00) (f32x4.mul (local.get $a) (local.get $d0))))
              (local.set $s01 (f32x4.add (local.get $s01) (f32x4.mul (local.get $a) (local.get $d1))))
              (local.set $a (v128.load (i32.add (local.get $q1) (local.get $j))))
              (local.set $s10 (f32x4.add (local.get $s10) (f32x4.mul (local.get $a) (local.get $d0))))
              (local.set $s11 (f32x4.add (local.get $s11) (f32x4.mul (local.get $a) (local.get $d1))))
              (local.set $a (v128.load (i32.add (local.get $q2) (local.get $j))))
              (local.set $s20 (f32x4.add (local.get $s20) (f32x4.mul (local.get $a) (local.get $d0))))
              (local.set $s21 (f32x4.add (local.get $s21) (f32x4.mul (local.get $a) (local.get $d1))))
              (local.set $a (v128.load (i32.add (local.get $q3) (local.get $j))))
              (local.set $s30 (f32x4.add (local.get $s30) (f32x4.mul (local.get $a) (local.get $d0))))
              (local.set $s31 (f32x4.add (local.get $s31) (f32x4.mul (local.get $a) (local.get $d1))))
              (local.set $j (i32.add (local.get $j) (i32.const 16)))
              (br_if $dims (i32.lt_u (local.get $j) (local.get $row_bytes))))
            ;; out row of query qi+k starts at out_ptr + (qi+k)*out_stride*4; column r.
            (local.set $out (i32.add (local.get $out_ptr)
              (i32.shl (i32.add (i32.mul (local.get $qi) (local.get $out_stride)) (local.get $r)) (i32.const 2))))
            (f32.store offset=0 (local.get $out) (call $hsum (local.get $s00)))
            (f32.store offset=4 (local.get $out) (call $hsum (local.get $s01)))
            (local.set $out (i32.add (local.get $out) (i32.shl (local.get $out_stride) (i32.const 2))))
            (f32.store offset=0 (local.get $out) (call $hsum (local.get $s10)))
            (f32.store offset=4 (local.get $out) (call $hsum (local.get $s11)))
            (local.set $out (i32.add (local.get $out) (i32.shl (local.get $out_stride) (i32.const 2))))
            (f32.store offset=0 (local.get $out) (call $hsum (local.get $s20)))
            (f32.store offset=4 (local.get $out) (call $hsum (local.get $s21)))
            (local.set $out (i32.add (local.get $out) (i32.shl (local.get $out_stride) (i32.const 2))))
            (f32.store offset=0 (local.get $out) (call $hsum (local.get $s30)))
            (f32.store offset=4 (local.get $out) (call $hsum (local.get $s31)))
            (local.set $r (i32.add (local.get $r) (i32.const 2)))
            (br $rows)))
        (local.set $qi (i32.add (local.get $qi) (i32.const 4)))
        (br $queries))))

  ;; Single query: out[r] = <query, row r> for r < n_rows, streaming the rows once.
  ;; Four rows at a time so four independent accumulator chains hide the add latency.
  (func (export "row_scores")
    (param $q_ptr i32) (param $db_ptr i32) (param $n_rows i32) (param $row_bytes i32) (param $out_ptr i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $j i32) (local $r i32)
    (local $a v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $r (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n_rows)))
        (local.set $r0 (i32.add (local.get $db_ptr) (i32.mul (local.get $r) (local.get $row_bytes))))
        (local.set $r1 (i32.add (local.get $r0) (local.get $row_bytes)))
        (local.set $r2 (i32.add (local.get $r1) (local.get $row_bytes)))
        (local.set $r3 (i32.add (local.get $r2) (local.get $row_bytes)))
        (local.set $s0 (v128.const i32x4 0 0 0 0)) (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $s2 (v128.const i32x4 0 0 0 0)) (local.set $s3 (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (loop $dims
          (local.set $a (v128.load (i32.add (local.get $q_ptr) (local.get $j))))
          (local.set $s0 (f32x4.add (local.get $s0)
            (f32x4.mul (local.get $a) (v128.load (i32.add (local.get $r0) (local.get $j))))))
          (local.set $s1 (f32x4.add (local.get $s1)
            (f32x4.mul (local.get $a) (v128.load (i32.add (local.get $r1) (local.get $j))))))
          (local.set $s2 (f32x4.add (local.get $s2)
            (f32x4.mul (local.get $a) (v128.load (i32.add (local.get $r2) (local.get $j))))))
          (local.set $s3 (f32x4.add (local.get $s3)
            (f32x4.mul (local.get $a) (v128.load (i32.add (local.get $r3) (local.get $j))))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $dims (i32.lt_u (local.get $j) (local.get $row_bytes))))
        (local.set $r0 (i32.add (local.get $out_ptr) (i32.shl (local.get $r) (i32.const 2))))
        (f32.store offset=0 (local.get $r0) (call $hsum (local.get $s0)))
        (f32.store offset=4 (local.get $r0) (call $hsum (local.get $s1)))
        (f32.store offset=8 (local.get $r0) (call $hsum (local.get $s2)))
        (f32.store offset=12 (local.get $r0) (call $hsum (local.get $s3)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $rows))))
  ;; Exact re-scoring of chosen rows: out[i] = <query, row idx[i]> for i < n. One accumulator
  ;; per row summed over j in the same order as row_scores and block_scores, so a re-scored
  ;; row gets bit-identically the score a full scan gives it.
  (func (export "gather_scores")
    (param $q_ptr i32) (param $db_ptr i32) (param $idx_ptr i32) (param $n i32)
    (param $row_bytes i32) (param $out_ptr i32)
    (local $i i32) (local $row i32) (local $j i32) (local $s v128)
    (local.set $i (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $row (i32.add (local.get $db_ptr)
          (i32.mul (i32.load (i32.add (local.get $idx_ptr) (i32.shl (local.get $i) (i32.const 2))))
                   (local.get $row_bytes))))
        (local.set $s (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (loop $dims
          (local.set $s (f32x4.add (local.get $s)
            (f32x4.mul (v128.load (i32.add (local.get $q_ptr) (local.get $j)))
                       (v128.load (i32.add (local.get $row) (local.get $j))))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $dims (i32.lt_u (local.get $j) (local.get $row_bytes))))
        (f32.store (i32.add (local.get $out_ptr) (i32.shl (local.get $i) (i32.const 2)))
          (call $hsum (local.get $s)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; Horizontal sum of four i32 lanes (the driver keeps every sum far from overflow).
  (func $hsum_i32 (param $v v128) (result i32)
    (local.set $v
      (i32x4.add (local.get $v)
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v))))

  ;; Approximate single-query scan over i8 codes (the prefilter of i8-codes.ts).
  ;; A code row is `code_bytes` i8 (a multiple of 32) followed by its f32 scale; rows are
  ;; `row_bytes` apart. The query is i16, 2 × code_bytes bytes at q_ptr. n_rows is a multiple
  ;; of 4. out[r] = f32(sum_j code[r][j] * query[j]) * scale[r] * q_scale, the integer dot
  ;; product being exact; four rows at a time share each query load.
  (func (export "i8_scores")
    (param $q_ptr i32) (param $db_ptr i32) (param $n_rows i32) (param $row_bytes i32)
    (param $code_bytes i32) (param $q_scale f32) (param $out_ptr i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $q i32) (local $end i32)
    (local $r i32) (local $d v128)
    (local $qa v128) (local $qb v128) (local $qc v128) (local $qd v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $r (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n_rows)))
        (local.set $p0 (i32.add (local.get $db_ptr) (i32.mul (local.get $r) (local.get $row_bytes))))
        (local.set $p1 (i32.add (local.get $p0) (local.get $row_bytes)))
        (local.set $p2 (i32.add (local.get $p1) (local.get $row_bytes)))
        (local.set $p3 (i32.add (local.get $p2) (local.get $row_bytes)))
        (local.set $end (i32.add (local.get $p0) (local.get $code_bytes)))
        (local.set $q (local.get $q_ptr))
        (local.set $s0 (v128.const i32x4 0 0 0 0)) (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $s2 (v128.const i32x4 0 0 0 0)) (local.set $s3 (v128.const i32x4 0 0 0 0))
        (loop $dims
          (local.set $qa (v128.load offset=0 (local.get $q)))
          (local.set $qb (v128.load offset=16 (local.get $q)))
          (local.set $qc (v128.load offset=32 (local.get $q)))
          (local.set $qd (v128.load offset=48 (local.get $q)))
          (local.set $d (v128.load offset=0 (local.get $p0)))
          (local.set $s0 (i32x4.add (local.get $s0) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $d)) (local.get $qa))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $d)) (local.get $qb)))))
          (local.set $d (v128.load offset=16 (local.get $p0)))
          (local.set $s0 (i32x4.add (local.get $s0) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $d)) (local.get $qc))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $d)) (local.get $qd)))))
          (local.set $d (v128.load offset=0 (local.get $p1)))
          (local.set $s1 (i32x4.add (local.get $s1) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $d)) (local.get $qa))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $d)) (local.get $qb)))))
          (local.set $d (v128.load offset=16 (local.get $p1)))
          (local.set $s1 (i32x4.add (local.get $s1) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $d)) (local.get $qc))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $d)) (local.get $qd)))))
          (local.set $d (v128.load offset=0 (local.get $p2)))
          (local.set $s2 (i32x4.add (local.get $s2) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $d)) (local.get $qa))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $d)) (local.get $qb)))))
          (local.set $d (v128.load offset=16 (local.get $p2)))
          (local.set $s2 (i32x4.add (local.get $s2) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $d)) (local.get $qc))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $d)) (local.get $qd)))))
          (local.set $d (v128.load offset=0 (local.get $p3)))
          (local.set $s3 (i32x4.add (local.get $s3) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $d)) (local.get $qa))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $d)) (local.get $qb)))))
          (local.set $d (v128.load offset=16 (local.get $p3)))
          (local.set $s3 (i32x4.add (local.get $s3) (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $d)) (local.get $qc))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $d)) (local.get $qd)))))
          (local.set $q (i32.add (local.get $q) (i32.const 64)))
          (local.set $p0 (i32.add (local.get $p0) (i32.const 32)))
          (local.set $p1 (i32.add (local.get $p1) (i32.const 32)))
          (local.set $p2 (i32.add (local.get $p2) (i32.const 32)))
          (local.set $p3 (i32.add (local.get $p3) (i32.const 32)))
          (br_if $dims (i32.lt_u (local.get $p0) (local.get $end))))
        ;; Each p now points at its row's scale.
        (local.set $end (i32.add (local.get $out_ptr) (i32.shl (local.get $r) (i32.const 2))))
        (f32.store offset=0 (local.get $end) (f32.mul (f32.mul
          (f32.convert_i32_s (call $hsum_i32 (local.get $s0))) (f32.load (local.get $p0))) (local.get $q_scale)))
        (f32.store offset=4 (local.get $end) (f32.mul (f32.mul
          (f32.convert_i32_s (call $hsum_i32 (local.get $s1))) (f32.load (local.get $p1))) (local.get $q_scale)))
        (f32.store offset=8 (local.get $end) (f32.mul (f32.mul
          (f32.convert_i32_s (call $hsum_i32 (local.get $s2))) (f32.load (local.get $p2))) (local.get $q_scale)))
        (f32.store offset=12 (local.get $end) (f32.mul (f32.mul
          (f32.convert_i32_s (call $hsum_i32 (local.get $s3))) (f32.load (local.get $p3))) (local.get $q_scale)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $rows))))
  ;; Largest of four u32 lanes.
  (func $hmax_u (param $v v128) (result i32)
    (local $a i32) (local $b i32)
    (local.set $v
      (i32x4.max_u (local.get $v)
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (local.set $a (i32x4.extract_lane 0 (local.get $v)))
    (local.set $b (i32x4.extract_lane 1 (local.get $v)))
    (select (local.get $a) (local.get $b) (i32.gt_u (local.get $a) (local.get $b))))

  ;; i8 codes of float rows for i8_scores. Row r (row_bytes of floats at src) becomes, at
  ;; dst + r * code_row_bytes: row_bytes / 4 codes c = round(x / s), s = max|x| / 127, zeros
  ;; up to code_bytes, then f32 s, f32 ‖x − s·c‖ and f32 ‖x‖ as summed in float32 (the driver
  ;; widens both for rounding before using them as bounds). Rows hold finite values.
  (func (export "quantize_rows")
    (param $src i32) (param $n i32) (param $row_bytes i32) (param $dst i32)
    (param $code_bytes i32) (param $code_row_bytes i32)
    (local $r i32) (local $p i32) (local $end i32) (local $out i32)
    (local $x v128) (local $y v128) (local $c v128) (local $e v128) (local $m v128)
    (local $err v128) (local $norm v128) (local $inv v128) (local $sv v128)
    (local $scale f32) (local $inv1 f32)
    (local.set $r (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $p (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $row_bytes))))
        (local.set $end (i32.add (local.get $p) (local.get $row_bytes)))
        (local.set $out (i32.add (local.get $dst) (i32.mul (local.get $r) (local.get $code_row_bytes))))
        ;; max|x| on the bit patterns: for non-negative floats, integer order is float order.
        (local.set $m (v128.const i32x4 0 0 0 0))
        (loop $max
          (local.set $m (i32x4.max_u (local.get $m)
            (v128.and (v128.load (local.get $p)) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $max (i32.lt_u (local.get $p) (local.get $end))))
        (local.set $scale (f32.div (f32.reinterpret_i32 (call $hmax_u (local.get $m))) (f32.const 127)))
        (local.set $sv (f32x4.splat (local.get $scale)))
        ;; A zero (or underflowing) scale codes the row as zeros; its error is then ‖x‖.
        (local.set $inv1 (f32.div (f32.const 1) (local.get $scale)))
        (if (i32.eqz (f32.lt (f32.abs (local.get $inv1)) (f32.const inf)))
          (then (local.set $inv1 (f32.const 0))))
        (local.set $inv (f32x4.splat (local.get $inv1)))
        (local.set $err (v128.const i32x4 0 0 0 0))
        (local.set $norm (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.sub (local.get $end) (local.get $row_bytes)))
        (loop $codes
          (local.set $x (v128.load (local.get $p)))
          ;; |x / s| ≤ 127 (+ rounding): adding 1.5·2^23 rounds it to an integer held in the
          ;; low mantissa bits, read back as (bits − bits(1.5·2^23)).
          (local.set $y (f32x4.add (f32x4.mul (local.get $x) (local.get $inv)) (v128.const f32x4 12582912 12582912 12582912 12582912)))
          (local.set $c (i32x4.sub (local.get $y) (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)))
          (local.set $c (i32x4.min_s (i32x4.max_s (local.get $c) (v128.const i32x4 -127 -127 -127 -127)) (v128.const i32x4 127 127 127 127)))
          (local.set $e (f32x4.sub (local.get $x) (f32x4.mul (f32x4.convert_i32x4_s (local.get $c)) (local.get $sv))))
          (local.set $err (f32x4.add (local.get $err) (f32x4.mul (local.get $e) (local.get $e))))
          (local.set $norm (f32x4.add (local.get $norm) (f32x4.mul (local.get $x) (local.get $x))))
          (local.set $c (i16x8.narrow_i32x4_s (local.get $c) (local.get $c)))
          (local.set $c (i8x16.narrow_i16x8_s (local.get $c) (local.get $c)))
          (i32.store (local.get $out) (i32x4.extract_lane 0 (local.get $c)))
          (local.set $out (i32.add (local.get $out) (i32.const 4)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $codes (i32.lt_u (local.get $p) (local.get $end))))
        ;; Zero the code padding, then the three floats.
        (local.set $p (i32.add (i32.add (local.get $dst) (i32.mul (local.get $r) (local.get $code_row_bytes))) (local.get $code_bytes)))
        (memory.fill (local.get $out) (i32.const 0) (i32.sub (local.get $p) (local.get $out)))
        (f32.store offset=0 (local.get $p) (local.get $scale))
        (f32.store offset=4 (local.get $p) (f32.sqrt (call $hsum (local.get $err))))
        (f32.store offset=8 (local.get $p) (f32.sqrt (call $hsum (local.get $norm))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))
)
