#!/bin/bash
# callgrind-lib.sh: what bench/http-callgrind.sh and bench/service-callgrind.sh share (sourced, not run).

# per_request OUT N NAME prints the user-space instructions per request of a callgrind output file OUT that
# measured N requests: in total, in V8's optimizing compiler (still catching up after warm-up; left out of the
# comparable figure), and the rest.
per_request() {
  callgrind_annotate --inclusive=no --threshold=100 "$1" 2>/dev/null | awk -v n="$2" -v name="$3" '
    /^ *[0-9,]+ +\(/ {
      x = $1; gsub(",", "", x);
      if ($0 ~ /PROGRAM TOTALS/) { total = x; next }
      if ($0 ~ /compiler::|maglev|Maglev|turboshaft|Pipeline|OptimizedCompilationJob/) compiler += x
    }
    END { printf "%s: %.0f instructions/request (compiler %.0f, the rest %.0f) over %d requests\n", name, total / n, compiler / n, (total - compiler) / n, n }'
}
