#!/usr/bin/env bash
# The report of make bench: reads what tests/bench/bench_report.sh measured
# (DIR/results.tsv, DIR/meta.env, DIR/bench_xdp.txt) and writes
# DOCS/performance.md and DOCS/performance.png (gnuplot), prints the tables
# and, last, exactly:
#   bench: hs_ratio_vs_nginx=R hs_ratio_boringssl_vs_nginx=R ka_ratio_vs_nginx=R p99_ratio_vs_nginx=R
# Can be rerun on its own: tests/bench/report.sh build/bench-report docs
# meta.env (written by bench_report.sh) assigns the lower-case settings
# shellcheck disable=SC2154
set -u -o pipefail

dir=${1:?usage: report.sh RESULTS_DIR DOCS_DIR}
docs=${2:?usage: report.sh RESULTS_DIR DOCS_DIR}
die() {
	echo "bench: FAIL: $*" >&2
	exit 1
}
[ -s "$dir/results.tsv" ] || die "$dir/results.tsv is missing or empty"
[ -s "$dir/meta.env" ] || die "$dir/meta.env is missing"
command -v gnuplot >/dev/null || die "gnuplot is not installed (make deps)"
# shellcheck source=/dev/null
. "$dir/meta.env"
read -r -a SYS <<<"$systems"

# S[system.scen.metric] = "median min max n" over the rounds
declare -A S
while read -r k med lo hi n; do
	S[$k]="$med $lo $hi $n"
done < <(awk -F'\t' '{print $2 "." $3 "." $4, $5}' "$dir/results.tsv" |
	sort -k1,1 -k2,2g | awk '
	function flush() { if (n) {
		m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		print key, m, v[1], v[n], n } }
	$1 != key { flush(); key = $1; n = 0 }
	{ v[++n] = $2 }
	END { flush() }')

med() { local a; read -r -a a <<<"${S[$1]:-nan nan nan 0}"; echo "${a[0]}"; }
# fmt KEY DECIMALS: "median [min–max]"
fmt() {
	local a
	read -r -a a <<<"${S[$1]:-nan nan nan 0}"
	[ "${a[3]}" != 0 ] || {
		echo "–"
		return
	}
	awk -v m="${a[0]}" -v l="${a[1]}" -v h="${a[2]}" -v d="$2" \
		'BEGIN {printf "%.*f [%.*f–%.*f]", d, m, d, l, d, h}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
label() {
	case $1 in
	nginx) echo "(a) nginx" ;;
	haproxy) echo "(b) HAProxy" ;;
	lbtls-xdp) echo "(c) XDP + lbtls" ;;
	lbtls) echo "(d) lbtls alone" ;;
	lbtls-xdp-boringssl) echo "(e) XDP + lbtls (BoringSSL)" ;;
	esac
}

hs_ratio=$(ratio "$(med lbtls-xdp.hs.ops)" "$(med nginx.hs.ops)")
hsb_ratio=$(ratio "$(med lbtls-xdp-boringssl.hs.ops)" "$(med nginx.hs.ops)")
ka_ratio=$(ratio "$(med lbtls-xdp.ka.ops)" "$(med nginx.ka.ops)")
p99_ratio=$(ratio "$(med lbtls-xdp.lat.p99)" "$(med nginx.lat.p99)")
last="bench: hs_ratio_vs_nginx=$hs_ratio hs_ratio_boringssl_vs_nginx=$hsb_ratio ka_ratio_vs_nginx=$ka_ratio p99_ratio_vs_nginx=$p99_ratio"

# --- tables (markdown; printed too) ---------------------------------------------
tables() {
	local s
	echo "### At a glance"
	echo
	echo "Fast backend unless marked Flask; median [min–max] of $ROUNDS runs."
	echo
	echo "| system | full handshakes per CPU-s | keep-alive req per CPU-s | p99 ms at $LAT_RATE req/s | Flask keep-alive req/s | Flask p99 ms at $FLASK_RATE req/s | MiB per 10k idle TLS conns |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for s in "${SYS[@]}"; do
		echo "| $(label "$s") | $(fmt "$s.hs.ops" 0) | $(fmt "$s.ka.ops" 0) | $(fmt "$s.lat.p99" 2) | $(fmt "$s.fka.rps" 0) | $(fmt "$s.flat.p99" 1) | $(fmt "$s.mem.per10k" 1) |"
	done
	echo
	echo "### Full handshakes (fast backend, \`Connection: close\`, $HS_CONNS connections, no resumption)"
	echo
	echo "| system | req/s | p99 ms | server CPU µs/req | handshakes per CPU-s | server busy % | machine CPU µs/req |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for s in "${SYS[@]}"; do
		echo "| $(label "$s") | $(fmt "$s.hs.rps" 0) | $(fmt "$s.hs.p99" 1) | $(fmt "$s.hs.us" 0) | $(fmt "$s.hs.ops" 0) | $(fmt "$s.hs.busy" 0) | $(fmt "$s.hs.mus" 0) |"
	done
	echo
	echo "### Keep-alive requests (fast backend, $KA_CONNS connections)"
	echo
	echo "| system | req/s | p99 ms | server CPU µs/req | req per CPU-s | server busy % | machine CPU µs/req |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for s in "${SYS[@]}"; do
		echo "| $(label "$s") | $(fmt "$s.ka.rps" 0) | $(fmt "$s.ka.p99" 2) | $(fmt "$s.ka.us" 1) | $(fmt "$s.ka.ops" 0) | $(fmt "$s.ka.busy" 0) | $(fmt "$s.ka.mus" 1) |"
	done
	echo
	echo "### Latency at a fixed offered rate (fast backend, $LAT_RATE req/s open-loop, $LAT_CONNS keep-alive connections)"
	echo
	echo "| system | achieved req/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/req | server busy % |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for s in "${SYS[@]}"; do
		echo "| $(label "$s") | $(fmt "$s.lat.achieved" 0) | $(fmt "$s.lat.p50" 3) | $(fmt "$s.lat.p99" 3) | $(fmt "$s.lat.p999" 3) | $(fmt "$s.lat.us" 1) | $(fmt "$s.lat.busy" 0) |"
	done
	echo
	echo "### Flask (the three lb-flask containers, gunicorn)"
	echo
	echo "| system | keep-alive req/s ($FLASK_CONNS conns) | server CPU µs/req | p50 ms at $FLASK_RATE req/s | p99 ms | p99.9 ms | achieved req/s |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for s in "${SYS[@]}"; do
		echo "| $(label "$s") | $(fmt "$s.fka.rps" 0) | $(fmt "$s.fka.us" 1) | $(fmt "$s.flat.p50" 2) | $(fmt "$s.flat.p99" 2) | $(fmt "$s.flat.p999" 2) | $(fmt "$s.flat.achieved" 0) |"
	done
	echo
	echo "### Memory ($IDLE_CONNS idle keep-alive TLS connections, server PSS)"
	echo
	echo "| system | PSS before, MiB | PSS with the connections, MiB | MiB per 10k connections |"
	echo "|---|---:|---:|---:|"
	for s in "${SYS[@]}"; do
		echo "| $(label "$s") | $(fmt "$s.mem.before" 1) | $(fmt "$s.mem.after" 1) | $(fmt "$s.mem.per10k" 1) |"
	done
}
tables >"$dir/tables.md"

# --- plot ----------------------------------------------------------------------------
# one data row per system: label, then median min max of each column
row() { # row SYSTEM KEY [SCALE]
	local a
	read -r -a a <<<"${S[$2]:-0 0 0 0}"
	awk -v m="${a[0]}" -v l="${a[1]}" -v h="${a[2]}" -v k="${3:-1}" \
		'BEGIN {printf " %g %g %g", m / k, l / k, h / k}'
}
for s in "${SYS[@]}"; do
	printf '"%s"' "$(label "$s")"
	row "$s" "$s.hs.rps"
	row "$s" "$s.hs.ops"
	echo
done >"$dir/plot-hs.dat"
for s in "${SYS[@]}"; do
	printf '"%s"' "$(label "$s")"
	row "$s" "$s.ka.rps" 1000
	row "$s" "$s.ka.ops" 1000
	echo
done >"$dir/plot-ka.dat"
for sc in lat flat; do
	for s in "${SYS[@]}"; do
		printf '"%s"' "$(label "$s")"
		row "$s" "$s.$sc.p50"
		row "$s" "$s.$sc.p99"
		row "$s" "$s.$sc.p999"
		echo
	done >"$dir/plot-$sc.dat"
done
cat >"$dir/plot.gp" <<EOF
set terminal pngcairo size 1400,1000 font "sans,11"
set output "$docs/performance.png"
set multiplot layout 2,2 title "make bench, $date: $cpu_model, $ncpu CPUs, kernel $kernel; one server core; median of $ROUNDS runs, bars: min–max" font "sans,12"
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set grid ytics
set key top left
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set xtics scale 0 font "sans,10"
set title "Full TLS handshakes (fast backend)"
set ylabel "handshakes per second"
plot "$dir/plot-hs.dat" using 2:3:4:xtic(1) title "per second (client-bound)" lc rgb "#9ecae1", \
     "" using 5:6:7 title "per server CPU-second" lc rgb "#3182bd", \
     "" using (\$0-0.125):4:(sprintf("%.0f", \$2)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" using (\$0+0.125):7:(sprintf("%.0f", \$5)) with labels offset 0,0.7 font "sans,9" notitle
set title "Keep-alive HTTPS requests (fast backend)"
set ylabel "thousand requests per second"
plot "$dir/plot-ka.dat" using 2:3:4:xtic(1) title "per second" lc rgb "#a1d99b", \
     "" using 5:6:7 title "per server CPU-second" lc rgb "#31a354", \
     "" using (\$0-0.125):4:(sprintf("%.1f", \$2)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" using (\$0+0.125):7:(sprintf("%.1f", \$5)) with labels offset 0,0.7 font "sans,9" notitle
set title "Latency at $LAT_RATE req/s offered (fast backend, open-loop)"
set ylabel "ms (log scale)"
set logscale y
set yrange [*:*]
set offsets 0, 0, 0, 0
plot "$dir/plot-lat.dat" using 2:3:4:xtic(1) title "p50" lc rgb "#fdae6b", \
     "" using 5:6:7 title "p99" lc rgb "#e6550d", \
     "" using 8:9:10 title "p99.9" lc rgb "#a63603", \
     "" using (\$0-0.2):3:(sprintf("%.2g", \$2)) with labels offset 0,-0.8 font "sans,8" notitle, \
     "" using (\$0):6:(sprintf("%.2g", \$5)) with labels offset 0,-0.8 font "sans,8" notitle, \
     "" using (\$0+0.2):9:(sprintf("%.2g", \$8)) with labels offset 0,-0.8 font "sans,8" notitle
set title "Latency at $FLASK_RATE req/s offered (Flask containers, open-loop)"
plot "$dir/plot-flat.dat" using 2:3:4:xtic(1) title "p50" lc rgb "#bcbddc", \
     "" using 5:6:7 title "p99" lc rgb "#756bb1", \
     "" using 8:9:10 title "p99.9" lc rgb "#54278f", \
     "" using (\$0-0.2):3:(sprintf("%.2g", \$2)) with labels offset 0,-0.8 font "sans,8" notitle, \
     "" using (\$0):6:(sprintf("%.2g", \$5)) with labels offset 0,-0.8 font "sans,8" notitle, \
     "" using (\$0+0.2):9:(sprintf("%.2g", \$8)) with labels offset 0,-0.8 font "sans,8" notitle
unset multiplot
EOF
gnuplot "$dir/plot.gp" 2>"$dir/gnuplot.err" || die "gnuplot: $(cat "$dir/gnuplot.err")"

# --- docs/performance.md -----------------------------------------------------------
xdp_block=$(sed 's/^/    /' "$dir/bench_xdp.txt")
mins=$(awk -v e="$elapsed" 'BEGIN {printf "%.1f", e / 60}')
short_note=
if [ "${short:-0}" -gt 0 ]; then
	short_note=" $short kept latency runs achieved less than 97 % of their offered rate (see the achieved column)."
fi
if [ "$foreign" -gt 0 ]; then
	foreign_note="**Other load.** $foreign kept run(s) were flagged for other load on CPU $SERVER_CPU (the core was more than 10 points busier than the server) after their retries. Other work shared this machine during the run, so the spread (min–max) is wide, and the machine CPU column counts that work too. Compare the systems within this set, not across sets, and rerun on a quiet machine before quoting a figure outside the project.$short_note"
else
	foreign_note="No kept run was flagged for other load on CPU $SERVER_CPU.$short_note"
fi
sed -e "/@TABLES@/{r $dir/tables.md" -e 'd}' \
	-e "/@XDP@/{r /dev/stdin" -e 'd}' \
	-e "s|@DATE@|$date|g" -e "s|@CPU_MODEL@|$cpu_model|g" -e "s|@NCPU@|$ncpu|g" \
	-e "s|@KERNEL@|$kernel|g" -e "s|@V_LBTLS@|$v_lbtls|g" -e "s|@V_NGINX@|$v_nginx|g" \
	-e "s|@V_HAPROXY@|$v_haproxy|g" -e "s|@V_OPENSSL@|$v_openssl|g" \
	-e "s|@V_WRK@|$v_wrk|g" -e "s|@V_H2LOAD@|$v_h2load|g" -e "s|@V_DOCKER@|$v_docker|g" \
	-e "s|@ROUNDS@|$ROUNDS|g" -e "s|@DURATION@|$DURATION|g" \
	-e "s|@FLASK_DURATION@|$FLASK_DURATION|g" -e "s|@WARMUP@|$WARMUP|g" \
	-e "s|@HS_CONNS@|$HS_CONNS|g" -e "s|@KA_CONNS@|$KA_CONNS|g" \
	-e "s|@LAT_CONNS@|$LAT_CONNS|g" -e "s|@FLASK_CONNS@|$FLASK_CONNS|g" \
	-e "s|@LAT_RATE@|$LAT_RATE|g" -e "s|@FLASK_RATE@|$FLASK_RATE|g" \
	-e "s|@IDLE_CONNS@|$IDLE_CONNS|g" -e "s|@SERVER_CPU@|$SERVER_CPU|g" \
	-e "s|@CLIENT_CPU@|$CLIENT_CPU|g" -e "s|@CIPHERSUITE@|$CIPHERSUITE|g" \
	-e "s|@MINUTES@|$mins|g" -e "s|@FOREIGN_NOTE@|$foreign_note|g" \
	-e "s|@HS_RATIO@|$hs_ratio|g" -e "s|@HSB_RATIO@|$hsb_ratio|g" -e "s|@KA_RATIO@|$ka_ratio|g" \
	-e "s|@P99_RATIO@|$p99_ratio|g" -e "s|@LAST@|$last|g" \
	"$(dirname "$0")/conf/performance.md.in" <<<"$xdp_block" >"$docs/performance.md" ||
	die "cannot write $docs/performance.md"
! grep -q '@[A-Z_0-9]*@' "$docs/performance.md" || die "performance.md: unfilled placeholder"

cat "$dir/tables.md"
echo
sed 's/^/  /' "$dir/bench_xdp.txt" | tail -n +1
echo
echo "bench: wrote $docs/performance.md and $docs/performance.png; raw results in $dir ($mins min)"
echo "$last"
