/**
 * The help text of dotproxy, printed by `--help`.
 *
 * @module
 */

/** Help text printed by `--help`; it names every flag and variable. */
export const USAGE = `dotproxy [options]
  -l, --listen ADDR     address to listen on, repeatable (default 127.0.0.1)
  -p, --port N          port for both UDP and TCP (default 53)
  -u, --upstream SPEC   DNS-over-TLS upstream, repeatable, tried in order of health:
                        IP[:PORT][#AUTH_NAME], IPv6 as [IP]:PORT#AUTH_NAME, PORT default 853;
                        default 1.1.1.1:853#cloudflare-dns.com and 1.0.0.1:853#cloudflare-dns.com;
                        TLS options follow, each after "@": @pin-sha256=BASE64 (repeatable: the
                        server's key must match one), @client-cert=PATH@client-key=PATH
                        (see docs/security.md)
      --ca-file PATH    PEM bundle of extra CA certificates to trust for upstreams, e.g. a private
                        resolver's CA (Deno adds these to its built-in roots)
      --tls-client-cert PATH
                        PEM client certificate (chain) presented to every DoT upstream without
                        its own @client-cert (mutual TLS; default none)
      --tls-client-key PATH
                        PEM private key of --tls-client-cert
      --timeout MS      deadline for one client query across all retries (default 4000), then SERVFAIL
      --max-udp-size N  largest UDP answer sent to clients (default 1232, DNS Flag Day 2020)
      --log-level L     debug | info | warning | error (default info)
      --log-format F    text | json (default text on a terminal, json otherwise)
      --cache-size N    answers kept in memory (default 10000; 0 turns the cache off)
      --cache-min-ttl S lower bound on cached TTLs in seconds (default 0)
      --cache-max-ttl S upper bound on cached TTLs in seconds (default 86400)
      --stale-ttl S     serve expired answers up to S seconds old when upstreams fail
                        (RFC 8767; default 86400; 0 turns serve-stale off)
      --config FILE     read settings from a YAML file whose keys are the long flag names
                        (see docs/configuration.md); variables and flags win over it; SIGHUP
                        reads it again and applies the upstreams and zones without a restart
  -h, --help            usage; -V, --version

Split DNS:
      --forward-zone ZONE=SPEC[,SPEC...]
                        send queries at or below ZONE to these resolvers instead, repeatable;
                        SPEC is a DoT upstream as for --upstream, or udp://IP[:PORT] for a
                        plaintext resolver inside your trust boundary (e.g. kube-dns)
      --upstream-policy P
                        fastest | sequential | round-robin (default fastest: lowest smoothed
                        round-trip time among healthy upstreams)
      --hedge off|auto|MS
                        with two or more healthy upstreams, also send a query to the next
                        one when the first has not answered within its p95 round-trip time
                        (auto; 10 to 1000 ms) or MS; at most 5 % more upstream queries
                        (default auto)
      --builtin-zones[=false]
                        answer localhost, local, invalid, onion and the private reverse zones
                        locally, so they never leak upstream (default true)

DNSSEC (see docs/dnssec.md):
      --dnssec MODE     off | validate (default off): validate answers from the root's trust
                        anchor; bogus answers become SERVFAIL with an Extended DNS Error
      --trust-anchor-file PATH
                        DS or DNSKEY records in zone-file syntax: extra trust anchors, e.g. a
                        private root (an anchor for "." replaces the built-in root KSKs)
      --dnssec-insecure ZONE
                        treat ZONE as insecure, no chain of trust walked (a negative trust
                        anchor, RFC 7646; Unbound's domain-insecure), repeatable; test, local,
                        home.arpa and the other special-use zones are built in

Operations:
      --http ADDR:PORT  serve /metrics (Prometheus), /healthz and /readyz there (default off)
      --lameduck MS     after SIGTERM keep serving MS with /readyz 503, then drain (default 0)
      --log-queries     log one line per answered query (default off)
      --workers N       threads serving queries on one port (SO_REUSEPORT) with one shared cache;
                        needs --allow-ffi when above 1 (default auto: the CPUs the process may
                        use, 1 without --allow-ffi)
      --trace-query-names
                        put query names on OpenTelemetry spans (OTEL_DENO=true turns tracing
                        on; names are left out unless this is given)
  dotproxy healthcheck [options]
                        ask the running proxy (at --listen/--port) id.server. CH TXT; exit 0
                        when it answers, 1 otherwise (for container HEALTHCHECKs)
  dotproxy check-config [options]
                        validate the configuration (flags, variables and --config file) as a
                        start would, print "dotproxy: configuration OK" and exit 0, or print
                        the problem and exit 2

Access control and limits (see docs/security.md):
      --allow CIDR      client range allowed to query, repeatable; replaces the default list
                        127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16
                        169.254.0.0/16 fe80::/10 fc00::/7; others get no answer over UDP
                        and REFUSED over TCP
      --rate-limit QPS  queries per second per client, over the limit dropped on UDP and
                        REFUSED on TCP (default 0 = off)
      --rate-limit-burst N
                        queries a client may send at once (default 0 = same as QPS)
      --rate-limit-ipv4-prefix N
                        IPv4 prefix length that makes one client (default 32)
      --rate-limit-ipv6-prefix N
                        IPv6 prefix length that makes one client (default 64)
      --max-in-flight N client queries worked on at once; more get REFUSED (default 1000)
      --max-tcp-connections N
                        client TCP connections open at once (default 1000); when full, the
                        oldest idle one is closed for a new one
      --max-tcp-per-client N
                        client TCP connections open at once per client (default 20)
      --tcp-idle-timeout MS
                        close a client TCP connection idle, stalled mid-query or not reading
                        its answers for MS (default 10000)
      --upstream-connections N
                        TLS connections per upstream (default 2)
      --upstream-max-inflight N
                        queries in flight per upstream TLS connection (default 512)

Environment (flags win over variables; empty variables count as unset):
  DOTPROXY_CONFIG        --config
  DOTPROXY_LISTEN        --listen, comma-separated
  DOTPROXY_PORT          --port
  DOTPROXY_UPSTREAMS     --upstream, comma-separated
  DOTPROXY_CA_FILE       --ca-file
  DOTPROXY_TLS_CLIENT_CERT  --tls-client-cert
  DOTPROXY_TLS_CLIENT_KEY   --tls-client-key
  DOTPROXY_TIMEOUT       --timeout
  DOTPROXY_MAX_UDP_SIZE  --max-udp-size
  DOTPROXY_LOG_LEVEL     --log-level
  DOTPROXY_LOG_FORMAT    --log-format
  DOTPROXY_CACHE_SIZE    --cache-size
  DOTPROXY_CACHE_MIN_TTL --cache-min-ttl
  DOTPROXY_CACHE_MAX_TTL --cache-max-ttl
  DOTPROXY_STALE_TTL     --stale-ttl
  DOTPROXY_FORWARD_ZONES --forward-zone, zones separated by ";"
  DOTPROXY_UPSTREAM_POLICY  --upstream-policy
  DOTPROXY_HEDGE         --hedge
  DOTPROXY_BUILTIN_ZONES --builtin-zones (true or false)
  DOTPROXY_DNSSEC        --dnssec
  DOTPROXY_TRUST_ANCHOR_FILE       --trust-anchor-file
  DOTPROXY_DNSSEC_INSECURE         --dnssec-insecure, comma-separated
  DOTPROXY_HTTP          --http
  DOTPROXY_LAMEDUCK      --lameduck
  DOTPROXY_LOG_QUERIES   --log-queries (true or false)
  DOTPROXY_WORKERS       --workers
  DOTPROXY_TRACE_QUERY_NAMES  --trace-query-names (true or false)
  DOTPROXY_ALLOW         --allow, comma-separated
  DOTPROXY_RATE_LIMIT    --rate-limit
  DOTPROXY_RATE_LIMIT_BURST        --rate-limit-burst
  DOTPROXY_RATE_LIMIT_IPV4_PREFIX  --rate-limit-ipv4-prefix
  DOTPROXY_RATE_LIMIT_IPV6_PREFIX  --rate-limit-ipv6-prefix
  DOTPROXY_MAX_IN_FLIGHT           --max-in-flight
  DOTPROXY_MAX_TCP_CONNECTIONS     --max-tcp-connections
  DOTPROXY_MAX_TCP_PER_CLIENT      --max-tcp-per-client
  DOTPROXY_TCP_IDLE_TIMEOUT        --tcp-idle-timeout
  DOTPROXY_UPSTREAM_CONNECTIONS    --upstream-connections
  DOTPROXY_UPSTREAM_MAX_INFLIGHT   --upstream-max-inflight
Legacy variables, used when the DOTPROXY_* variable is unset:
  DOT_PORT               --port
  DOT_SERVER             one upstream SPEC (wins over DNS_SERVER_IP)
  DNS_SERVER_IP          one upstream IP, authenticated against the IP itself
  DNS_SERVER_PORT        port of DNS_SERVER_IP (default 853)
`;
