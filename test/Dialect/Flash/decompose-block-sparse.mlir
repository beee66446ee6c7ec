// RUN: flash-opt %s -split-input-file --flash-decompose-attention | FileCheck %s

// Block-sparse layouts: the CSR lists become a dense i8 tile state
// (0 dead, 1 partial, 2 full) built with scf loops, which the score generic
// reads with tensor.extract; and flash.block_sparse_layout itself.

// Per-head layout with a full list, under GQA (query head = hk * 3 + g) and a
// causal mask, which full tiles skip. The layout has one batch: index 0.
// CHECK-LABEL: func.func @per_head_with_full(
// CHECK-SAME:      %[[N:[^:]+]]: tensor<1x6x2xi32>, %[[IDX:[^:]+]]: tensor<1x6x2x3xi32>, %[[FN:[^:]+]]: tensor<1x6x2xi32>, %[[FIDX:[^:]+]]: tensor<1x6x2x1xi32>)
// CHECK-DAG:     %[[NEG_INF:[^ ]+]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:     %[[DEAD:[^ ]+]] = arith.constant 0 : i8
// CHECK-DAG:     %[[PARTIAL:[^ ]+]] = arith.constant 1 : i8
// CHECK-DAG:     %[[FULL:[^ ]+]] = arith.constant 2 : i8
// CHECK-DAG:     %[[BQ:[^ ]+]] = arith.constant 4 : index
// CHECK-DAG:     %[[BKV:[^ ]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[G:[^ ]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C0:[^ ]+]] = arith.constant 0 : index
// NKV = ceil(8 / 2) = 4 key tiles; every tile starts dead.
// CHECK:         %[[INIT:[^ ]+]] = linalg.fill ins(%[[DEAD]] : i8) outs(%{{.+}} : tensor<1x6x2x?xi8>)
// The live list marks its tiles partial...
// CHECK:         %[[STATES1:[^ ]+]] = scf.for %[[B:[^ ]+]] = {{.+}} iter_args(%{{.+}} = %[[INIT]])
// CHECK:           scf.for %[[H:[^ ]+]] = {{.+}} iter_args
// CHECK:             scf.for %[[T:[^ ]+]] = {{.+}} iter_args
// CHECK:               %[[COUNT:[^ ]+]] = tensor.extract %[[N]][%[[B]], %[[H]], %[[T]]] : tensor<1x6x2xi32>
// CHECK:               scf.for %[[L:[^ ]+]] = {{.+}} iter_args
// CHECK:                 %[[TILE:[^ ]+]] = tensor.extract %[[IDX]][%[[B]], %[[H]], %[[T]], %[[L]]] : tensor<1x6x2x3xi32>
// Out-of-range indices are ignored.
// CHECK-DAG:             arith.cmpi slt
// CHECK-DAG:             arith.cmpi sge
// CHECK:                 scf.if
// CHECK:                   tensor.insert %[[PARTIAL]] into
// ...then the full list marks its tiles full.
// CHECK:         %[[STATES:[^ ]+]] = scf.for {{.+}} iter_args(%{{.+}} = %[[STATES1]])
// CHECK:               tensor.extract %[[FN]]
// CHECK:                 tensor.extract %[[FIDX]]
// CHECK:                   tensor.insert %[[FULL]] into
// The score generic looks up the state of the tile holding (i, j).
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]
// CHECK-DAG:       %[[I:[^ ]+]] = linalg.index 3 : index
// CHECK-DAG:       %[[J:[^ ]+]] = linalg.index 4 : index
// CHECK-DAG:       %[[HK:[^ ]+]] = linalg.index 1 : index
// CHECK-DAG:       %[[GG:[^ ]+]] = linalg.index 2 : index
// CHECK-DAG:       %[[HKG:[^ ]+]] = arith.muli %[[HK]], %[[G]] : index
// CHECK-DAG:       %[[HQ:[^ ]+]] = arith.addi %[[HKG]], %[[GG]] : index
// CHECK-DAG:       %[[QT:[^ ]+]] = arith.divui %[[I]], %[[BQ]] : index
// CHECK-DAG:       %[[KT:[^ ]+]] = arith.divui %[[J]], %[[BKV]] : index
// CHECK:           %[[STATE:[^ ]+]] = tensor.extract %[[STATES]][%[[C0]], %[[HQ]], %[[QT]], %[[KT]]] : tensor<1x6x2x?xi8>
// CHECK-DAG:       %[[CAUSAL:[^ ]+]] = arith.cmpi sle, %[[J]], %[[I]] : index
// CHECK-DAG:       %[[IS_FULL:[^ ]+]] = arith.cmpi eq, %[[STATE]], %[[FULL]] : i8
// CHECK-DAG:       %[[IS_LIVE:[^ ]+]] = arith.cmpi ne, %[[STATE]], %[[DEAD]] : i8
// CHECK:           %[[UNMASKED:[^ ]+]] = arith.ori %[[IS_FULL]], %[[CAUSAL]] : i1
// CHECK:           %[[VISIBLE:[^ ]+]] = arith.andi %[[UNMASKED]], %[[IS_LIVE]] : i1
// CHECK:           arith.select %[[VISIBLE]], %{{.+}}, %[[NEG_INF]] : f32
func.func @per_head_with_full(%q: tensor<1x6x8x16xf32>,
                              %k: tensor<1x2x8x16xf32>,
                              %v: tensor<1x2x8x16xf32>,
                              %n: tensor<1x6x2xi32>, %idx: tensor<1x6x2x3xi32>,
                              %fn: tensor<1x6x2xi32>,
                              %fidx: tensor<1x6x2x1xi32>)
    -> tensor<1x6x8x16xf32> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %idx : tensor<1x6x2xi32>, tensor<1x6x2x3xi32>)
      full(%fn, %fidx : tensor<1x6x2xi32>, tensor<1x6x2x1xi32>)
      {block_sizes = array<i64: 4, 2>, mask_kind = #flash.mask<causal>}
      : tensor<1x6x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x6x8x16xf32>
  return %o : tensor<1x6x8x16xf32>
}

// -----

// A layout shared by every batch and head ([1, 1, NQ]) and no full list: the
// state is read at batch and head 0, and only liveness decides visibility.
// CHECK-LABEL: func.func @shared_live_only(
// CHECK-DAG:     %[[C0:[^ ]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[DEAD:[^ ]+]] = arith.constant 0 : i8
// CHECK-DAG:     %[[PARTIAL:[^ ]+]] = arith.constant 1 : i8
// CHECK:         %[[STATES:[^ ]+]] = scf.for
// CHECK:           tensor.insert %[[PARTIAL]] into
// CHECK-NOT:     arith.constant 2 : i8
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]
// CHECK:           %[[STATE:[^ ]+]] = tensor.extract %[[STATES]][%[[C0]], %[[C0]], %{{.+}}, %{{.+}}] : tensor<1x1x2x?xi8>
// CHECK-NOT:       arith.cmpi eq
// CHECK:           %[[IS_LIVE:[^ ]+]] = arith.cmpi ne, %[[STATE]], %[[DEAD]] : i8
// CHECK:           arith.select %[[IS_LIVE]]
func.func @shared_live_only(%q: tensor<2x2x8x16xf16>, %k: tensor<2x2x8x16xf16>,
                            %v: tensor<2x2x8x16xf16>, %n: tensor<1x1x2xi32>,
                            %idx: tensor<1x1x2x2xi32>) -> tensor<2x2x8x16xf16> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %idx : tensor<1x1x2xi32>, tensor<1x1x2x2xi32>)
      {block_sizes = array<i64: 4, 4>}
      : tensor<2x2x8x16xf16>, tensor<2x2x8x16xf16>, tensor<2x2x8x16xf16>
      -> tensor<2x2x8x16xf16>
  return %o : tensor<2x2x8x16xf16>
}

// -----

// flash.block_sparse_layout walks the tile mask in order and appends each live
// tile to its row: indices[b, h, t, count] = tile, then count += 1.
// CHECK-LABEL: func.func @layout(
// CHECK-SAME:      %[[TILES:[^:]+]]: tensor<1x2x4x4xi1>)
// CHECK-DAG:     %[[ZERO:[^ ]+]] = arith.constant 0 : i32
// CHECK-DAG:     %[[ONE:[^ ]+]] = arith.constant 1 : i32
// CHECK:         %[[COUNTS0:[^ ]+]] = linalg.fill ins(%[[ZERO]] : i32) outs(%{{.+}} : tensor<1x2x4xi32>)
// CHECK:         %[[INDICES0:[^ ]+]] = linalg.fill ins(%[[ZERO]] : i32) outs(%{{.+}} : tensor<1x2x4x4xi32>)
// CHECK:         %[[RES:[0-9]+]]:2 = scf.for %[[B:[^ ]+]] = {{.+}} iter_args(%{{.+}} = %[[COUNTS0]], %{{.+}} = %[[INDICES0]])
// CHECK:           scf.for %[[H:[^ ]+]] =
// CHECK:             scf.for %[[T:[^ ]+]] =
// CHECK:               scf.for %[[KT:[^ ]+]] = {{.+}} iter_args(%[[COUNTS:[^ ]+]] = %{{.+}}, %[[INDICES:[^ ]+]] = %{{.+}})
// CHECK:                 %[[LIVE:[^ ]+]] = tensor.extract %[[TILES]][%[[B]], %[[H]], %[[T]], %[[KT]]] : tensor<1x2x4x4xi1>
// CHECK:                 scf.if %[[LIVE]]
// CHECK:                   %[[COUNT:[^ ]+]] = tensor.extract %[[COUNTS]][%[[B]], %[[H]], %[[T]]] : tensor<1x2x4xi32>
// CHECK:                   %[[AT:[^ ]+]] = arith.index_cast %[[COUNT]] : i32 to index
// CHECK:                   %[[TILE:[^ ]+]] = arith.index_cast %[[KT]] : index to i32
// CHECK:                   tensor.insert %[[TILE]] into %[[INDICES]][%[[B]], %[[H]], %[[T]], %[[AT]]]
// CHECK:                   %[[NEXT:[^ ]+]] = arith.addi %[[COUNT]], %[[ONE]] : i32
// CHECK:                   tensor.insert %[[NEXT]] into %[[COUNTS]][%[[B]], %[[H]], %[[T]]]
// CHECK:                 } else {
// CHECK:                   scf.yield %[[COUNTS]], %[[INDICES]]
// CHECK:         return %[[RES]]#0, %[[RES]]#1
func.func @layout(%tiles: tensor<1x2x4x4xi1>)
    -> (tensor<1x2x4xi32>, tensor<1x2x4x4xi32>) {
  %n, %idx = flash.block_sparse_layout %tiles
      : tensor<1x2x4x4xi1> -> tensor<1x2x4xi32>, tensor<1x2x4x4xi32>
  return %n, %idx : tensor<1x2x4xi32>, tensor<1x2x4x4xi32>
}
