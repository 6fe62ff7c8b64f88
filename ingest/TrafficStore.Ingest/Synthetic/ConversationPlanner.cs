using System.Text;
using TrafficStore.Ingest.Synthetic.Cluster;
using TrafficStore.Ingest.Synthetic.Conversations;
using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic;

/// <summary>
/// Decides who talks to whom, about what, and how far apart they are: builds the feature tour and
/// the random conversations as <see cref="ConversationScript"/>s.
/// </summary>
internal sealed class ConversationPlanner
{
    private readonly ConversationEnvironment _context;
    private readonly TrafficGeneratorOptions _options;
    private readonly Random _rng;
    private ClusterTopology Topology => _context.Topology;
    private PayloadLibrary Payloads => _context.Payloads;

    public ConversationPlanner(ConversationEnvironment context, TrafficGeneratorOptions options)
    {
        _context = context;
        _options = options;
        _rng = context.Random;
    }

    private Workload Find(string name) => Topology.Workloads.First(w => w.Name == name);
    private ClusterPod PodOf(string name) => Find(name).Pods[0];
    private T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];

    /// <summary>
    /// Round-trip time seen from the client: pods on one node answer in tens of microseconds,
    /// across zones in about a millisecond.
    /// </summary>
    private long Rtt(ClusterPod client, ClusterPod server) =>
        client.Node == server.Node ? 30_000 + _rng.Next(50_000) : 350_000 + _rng.Next(900_000);

    /// <summary>The destination a client uses: the ClusterIP and service port (mostly) or the pod itself.</summary>
    private (SimulatedHost Host, ushort Port, ClusterPod Backend) Target(Workload workload, bool viaService)
    {
        ClusterPod backend = Pick(workload.Pods);
        return viaService && workload.Service is not null
            ? (workload.Service.ClusterIp, (ushort)workload.ServicePort, backend)
            : (backend.Host, (ushort)workload.ContainerPort, backend);
    }

    // ------------------------------------------------------------------ feature tour

    public IEnumerable<ConversationScript> FeatureTour(long start, long end)
    {
        long span = end - start;
        long At(double fraction) => start + (long)(span * fraction);

        // The long-lived connection: Prometheus scrapes an orders pod every 15 s, start to end.
        ClusterPod prometheus = PodOf("prometheus");
        ClusterPod ordersPod = Find("orders").Pods[^1];
        var scrapes = new List<HttpExchangePlan>();
        long scrapeEvery = Math.Min(15_000_000_000, Math.Max(span / 8, 1_000_000));
        for (long t = 0; t + scrapeEvery < span; t += scrapeEvery)
            scrapes.Add(new HttpExchangePlan("GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", Payloads.MetricsText,
                ThinkNs: 3_000_000, IdleAfterNs: scrapeEvery - 4_000_000));
        yield return new HttpConversationScript(_context, start + 1_000_000, prometheus.Host, ordersPod.Host, 8080, false, Rtt(prometheus, ordersPod),
            $"{ordersPod.Host.Ipv4Address}:8080", "Prometheus/2.53.0", scrapes, closeAtNs: end - 50_000_000);

        ClusterPod frontend = PodOf("frontend");
        ClusterPod loadgen = PodOf("loadgen");
        var orders = Target(Find("orders"), true);
        string ordersHost = Find("orders").DnsName;
        yield return new HttpConversationScript(_context, At(0.02), frontend.Host, orders.Host, orders.Port, false, Rtt(frontend, orders.Backend),
            ordersHost, "frontend/2.4.1 okhttp/4.12.0", new[]
            {
                new HttpExchangePlan("GET", "/api/v1/orders?limit=12", 200, "application/json", Payloads.OrdersJson),
                new HttpExchangePlan("GET", "/api/v1/orders/export?format=json", 200, "application/json", Payloads.ExportJsonGzip, BodyFraming.Gzip),
                new HttpExchangePlan("GET", "/api/v1/orders/events", 200, "application/x-ndjson", Payloads.OrdersJson, BodyFraming.Chunked),
                new HttpExchangePlan("GET", "/api/v1/orders/ord_881234", 401, "application/json", Http1Messages.ErrorJson(401, "unauthorized", "missing bearer token"), Authorized: false),
                new HttpExchangePlan("DELETE", "/api/v1/admin/orders/ord_881234", 403, "application/json", Http1Messages.ErrorJson(403, "forbidden", "scope orders:admin required")),
                new HttpExchangePlan("GET", "/api/v1/orders?limit=500", 429, "application/json", Http1Messages.ErrorJson(429, "rate_limited", "slow down")),
            });

        var payments = Target(Find("payments-api"), true);
        yield return new HttpConversationScript(_context, At(0.04), loadgen.Host, payments.Host, payments.Port, false, Rtt(loadgen, payments.Backend),
            Find("payments-api").DnsName, "loadgen/1.0 python-requests/2.32", new[]
            {
                new HttpExchangePlan("POST", "/api/v1/payments", 201, "application/json",
                    Encoding.UTF8.GetBytes("{\"id\":\"pay_7Hq2\",\"status\":\"authorized\",\"amount\":129.90,\"currency\":\"EUR\"}"),
                    RequestBody: PaymentRequest(), ThinkNs: 35_000_000),
                new HttpExchangePlan("POST", "/api/v1/payments", 500, "application/json", Http1Messages.ErrorJson(500, "internal", "ledger write failed"),
                    RequestBody: PaymentRequest()),
                new HttpExchangePlan("GET", "/api/v1/payments/pay_7Hq2", 503, "application/json", Http1Messages.ErrorJson(503, "unavailable", "upstream overloaded")),
            });

        var inventory = Target(Find("inventory"), true);
        yield return new GrpcConversationScript(_context, At(0.06), frontend.Host, inventory.Host, inventory.Port, false, Rtt(frontend, inventory.Backend),
            $"{Find("inventory").DnsName}:50051", new[]
            {
                new GrpcCallPlan("/shop.inventory.v1.InventoryService/GetStock", 24, 1, 60),
                new GrpcCallPlan("/shop.inventory.v1.InventoryService/GetStock", 24, 1, 60),
                new GrpcCallPlan("/shop.inventory.v1.InventoryService/Reserve", 40, 1, 30, 5, "sku SKU-99999 not found"),
                new GrpcCallPlan("/shop.inventory.v1.InventoryService/ListStock", 16, 6, 900),
                new GrpcCallPlan("/shop.inventory.v1.InventoryService/Reserve", 40, 1, 30, 14, "upstream connect error"),
            });

        SimulatedHost dns = Topology.Dns.ClusterIp;
        ClusterPod coredns = Topology.Dns.Workload.Pods[0];
        ClusterService ordersService = Find("orders").Service!;
        yield return new DnsUdpScript(_context, At(0.08), frontend.Host, dns, false, Rtt(frontend, coredns), new[]
        {
            new DnsQueryPlan(ordersHost, DnsType.A, 0, new[] { new DnsAnswer(ordersHost, DnsType.A, ordersService.ClusterIp.Ipv4Address.ToString()) }),
            new DnsQueryPlan(ordersHost, DnsType.Aaaa, 0, new[] { new DnsAnswer(ordersHost, DnsType.Aaaa, ordersService.ClusterIp.Ipv6Address!.ToString()) }),
        });
        yield return new DnsUdpScript(_context, At(0.09), ordersPod.Host, dns, false, Rtt(ordersPod, coredns), new[] { ExternalCname() });
        string srvName = "_grpc._tcp." + Find("inventory").DnsName;
        yield return new DnsUdpScript(_context, At(0.10), frontend.Host, dns, false, Rtt(frontend, coredns), new[]
        {
            new DnsQueryPlan(srvName, DnsType.Srv, 0, new[] { new DnsAnswer(srvName, DnsType.Srv, Find("inventory").DnsName, 50051) }),
        });
        yield return new DnsUdpScript(_context, At(0.11), loadgen.Host, dns, false, Rtt(loadgen, coredns), new[]
        {
            new DnsQueryPlan("api.stripe.com.shop.svc.cluster.local", DnsType.A, DnsMessageWriter.NxDomain, Array.Empty<DnsAnswer>()),
        });
        yield return new DnsUdpScript(_context, At(0.115), loadgen.Host, dns, false, Rtt(loadgen, coredns), new[]
        {
            new DnsQueryPlan("telemetry.vendor.example", DnsType.A, 0, Array.Empty<DnsAnswer>(), Answered: false),
        });
        string catalogHost = Find("catalog").DnsName;
        yield return new DnsTcpScript(_context, At(0.12), ordersPod.Host, dns, Rtt(ordersPod, coredns),
            new DnsQueryPlan(catalogHost, DnsType.A, 0,
                Enumerable.Range(1, 40).Select(i => new DnsAnswer(catalogHost, DnsType.A, $"10.244.{1 + i % 3}.{100 + i}")).ToArray()));

        var checkout = Target(Find("checkout"), true);
        yield return new TlsConversationScript(_context, At(0.14), frontend.Host, checkout.Host, checkout.Port, false, Rtt(frontend, checkout.Backend),
            Find("checkout").DnsName, TlsOutcome.Tls13, new[] { 2200, 800 });
        var auth = Target(Find("auth"), true);
        yield return new TlsConversationScript(_context, At(0.16), loadgen.Host, auth.Host, auth.Port, false, Rtt(loadgen, auth.Backend),
            Find("auth").DnsName, TlsOutcome.Tls12, new[] { 1500 });
        yield return new TlsConversationScript(_context, At(0.18), frontend.Host, auth.Host, auth.Port, false, Rtt(frontend, auth.Backend),
            "legacy." + Find("auth").DnsName, TlsOutcome.HandshakeFailure, Array.Empty<int>());

        var catalog = Target(Find("catalog"), true);
        yield return new LossyTransferScript(_context, At(0.20), frontend.Host, catalog.Host, catalog.Port, 400_000 + _rng.Next(400_000), catalogHost);
        ClusterPod ordersBackend = Find("orders").Pods[0];
        yield return new ZeroWindowScript(_context, At(0.22), loadgen.Host, ordersBackend.Host, 8080, Rtt(loadgen, ordersBackend) + 200_000, ordersHost);
        yield return new OutOfOrderScript(_context, At(0.24), frontend.Host, orders.Host, orders.Port, 500_000 + _rng.Next(300_000), ordersHost);
        ClusterPod paymentsPod = Find("payments-api").Pods[0];
        yield return new FailedConnectionScript(_context, At(0.26), frontend.Host, paymentsPod.Host, 9000, Rtt(frontend, paymentsPod), ConnectionFailure.Refused);
        yield return new FailedConnectionScript(_context, At(0.28), loadgen.Host, Topology.Unreachable, 8443, 1_000_000, ConnectionFailure.Unanswered);

        yield return new HttpConversationScript(_context, At(0.30), frontend.Host, orders.Host, orders.Port, true, Rtt(frontend, orders.Backend),
            ordersHost, "frontend/2.4.1 okhttp/4.12.0", new[] { new HttpExchangePlan("GET", "/api/v1/orders?limit=12", 200, "application/json", Payloads.OrdersJson) });
    }

    private DnsQueryPlan ExternalCname() => new("www.example.com", DnsType.A, 0, new[]
    {
        new DnsAnswer("www.example.com", DnsType.Cname, "www.example.com-v4.edgesuite.net", Ttl: 300),
        new DnsAnswer("www.example.com-v4.edgesuite.net", DnsType.Cname, "a1422.dscr.akamai.net", Ttl: 60),
        new DnsAnswer("a1422.dscr.akamai.net", DnsType.A, "93.184.215.14", Ttl: 20),
    }, ResolveNs: 12_000_000);

    /// <summary>A checkout POST carrying personal data: an e-mail address and the Visa test card.</summary>
    private byte[] PaymentRequest() => Encoding.UTF8.GetBytes(
        $"{{\"order\":\"ord_{_rng.Next(100000, 999999)}\",\"amount\":129.90,\"currency\":\"EUR\"," +
        $"\"customer\":{{\"email\":\"jane.doe{_rng.Next(100)}@example.com\",\"name\":\"Jane Doe\"}}," +
        "\"card\":{\"number\":\"4111 1111 1111 1111\",\"exp\":\"12/29\",\"cvc\":\"123\"}}");

    // ------------------------------------------------------------------ random conversations

    public ConversationScript Random(long at)
    {
        TrafficMix mix = _options.Mix;
        double roll = _rng.NextDouble() * mix.Total;
        bool ipv6 = _rng.NextDouble() < _options.Ipv6Fraction;
        bool viaService = _rng.Next(10) < 7;
        ClusterPod client = Pick(Topology.Clients);
        if ((roll -= mix.Http) < 0) return RandomHttp(at, client, ipv6, viaService);
        if ((roll -= mix.Downloads) < 0) return RandomDownload(at, client, ipv6, viaService);
        if ((roll -= mix.Grpc) < 0) return RandomGrpc(at, client, ipv6, viaService);
        if ((roll -= mix.Dns) < 0) return RandomDns(at, client, ipv6);
        return RandomTls(at, client, ipv6);
    }

    private ConversationScript RandomHttp(long at, ClusterPod client, bool ipv6, bool viaService)
    {
        Workload workload = Pick(new[] { Find("orders"), Find("orders"), Find("frontend"), Find("payments-api") });
        var target = Target(workload, viaService);
        int count = 1 + _rng.Next(6);
        var exchanges = new List<HttpExchangePlan>(count);
        for (int i = 0; i < count; i++)
        {
            int roll = _rng.Next(100);
            long think = 500_000 + _rng.Next(20_000_000);
            long idle = 5_000_000 + _rng.Next(400_000_000);
            exchanges.Add(roll switch
            {
                < 60 => new HttpExchangePlan("GET", $"/api/v1/orders?limit={_rng.Next(5, 50)}&page={_rng.Next(1, 9)}", 200, "application/json", Payloads.OrdersJson, ThinkNs: think, IdleAfterNs: idle),
                < 68 => new HttpExchangePlan("GET", "/api/v1/orders/export?format=json", 200, "application/json", Payloads.ExportJsonGzip, BodyFraming.Gzip, ThinkNs: think * 3, IdleAfterNs: idle),
                < 74 => new HttpExchangePlan("GET", "/api/v1/orders/events", 200, "application/x-ndjson", Payloads.OrdersJson, BodyFraming.Chunked, ThinkNs: think, IdleAfterNs: idle),
                < 80 => new HttpExchangePlan("POST", "/api/v1/payments", 201, "application/json", Encoding.UTF8.GetBytes("{\"status\":\"authorized\"}"), RequestBody: PaymentRequest(), ThinkNs: think * 2, IdleAfterNs: idle),
                < 83 => new HttpExchangePlan("GET", "/api/v1/orders/ord_1", 401, "application/json", Http1Messages.ErrorJson(401, "unauthorized", "token expired"), Authorized: false, ThinkNs: think / 4, IdleAfterNs: idle),
                < 86 => new HttpExchangePlan("GET", "/api/v1/admin/stats", 403, "application/json", Http1Messages.ErrorJson(403, "forbidden", "missing scope"), ThinkNs: think / 4, IdleAfterNs: idle),
                < 91 => new HttpExchangePlan("GET", "/api/v1/orders?limit=500", 429, "application/json", Http1Messages.ErrorJson(429, "rate_limited", "slow down"), ThinkNs: think / 4, IdleAfterNs: idle),
                < 96 => new HttpExchangePlan("POST", "/api/v1/orders", 500, "application/json", Http1Messages.ErrorJson(500, "internal", "database timeout"), RequestBody: Encoding.UTF8.GetBytes("{\"sku\":\"SKU-10442\",\"qty\":2}"), ThinkNs: think * 5, IdleAfterNs: idle),
                _ => new HttpExchangePlan("GET", "/api/v1/orders", 503, "application/json", Http1Messages.ErrorJson(503, "unavailable", "no healthy upstream"), ThinkNs: think / 4, IdleAfterNs: idle),
            });
        }
        return new HttpConversationScript(_context, at, client.Host, target.Host, target.Port, ipv6, Rtt(client, target.Backend),
            workload.DnsName, $"{client.Workload.Name}/1.0", exchanges);
    }

    private ConversationScript RandomDownload(long at, ClusterPod client, bool ipv6, bool viaService)
    {
        Workload catalog = Find("catalog");
        var target = Target(catalog, viaService);
        int count = 1 + _rng.Next(3);
        var exchanges = new List<HttpExchangePlan>(count);
        for (int i = 0; i < count; i++)
        {
            int size = 64 * 1024 + _rng.Next(1_500_000);
            int offset = _rng.Next(Payloads.StaticAsset.Length - size);
            exchanges.Add(new HttpExchangePlan("GET", $"/static/chunk-{_rng.Next(1 << 24):x6}.js", 200, "application/javascript",
                Payloads.StaticAsset.AsMemory(offset, size), ThinkNs: 300_000, IdleAfterNs: 2_000_000 + _rng.Next(50_000_000)));
        }
        return new HttpConversationScript(_context, at, client.Host, target.Host, target.Port, ipv6, Rtt(client, target.Backend),
            catalog.DnsName, "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0", exchanges);
    }

    private ConversationScript RandomGrpc(long at, ClusterPod client, bool ipv6, bool viaService)
    {
        Workload workload = _rng.Next(2) == 0 ? Find("inventory") : Find("ledger");
        var target = Target(workload, viaService);
        string service = workload.Name == "inventory" ? "shop.inventory.v1.InventoryService" : "payments.ledger.v1.Ledger";
        string[] methods = workload.Name == "inventory" ? new[] { "GetStock", "Reserve", "ListStock" } : new[] { "Record", "GetBalance" };
        int count = 1 + _rng.Next(8);
        var calls = new List<GrpcCallPlan>(count);
        for (int i = 0; i < count; i++)
        {
            int roll = _rng.Next(100);
            string method = $"/{service}/{Pick(methods)}";
            calls.Add(roll switch
            {
                < 88 => new GrpcCallPlan(method, 20 + _rng.Next(200), 1 + (_rng.Next(5) == 0 ? _rng.Next(20) : 0), 40 + _rng.Next(6000),
                    ThinkNs: 300_000 + _rng.Next(10_000_000), IdleAfterNs: 1_000_000 + _rng.Next(200_000_000)),
                < 93 => new GrpcCallPlan(method, 40, 1, 0, 5, "not found"),
                < 97 => new GrpcCallPlan(method, 40, 1, 0, 14, "connection refused by upstream"),
                _ => new GrpcCallPlan(method, 40, 1, 0, 4, "deadline exceeded", ThinkNs: 5_000_000_000),
            });
        }
        return new GrpcConversationScript(_context, at, client.Host, target.Host, target.Port, ipv6, Rtt(client, target.Backend),
            $"{workload.DnsName}:{target.Port}", calls);
    }

    private ConversationScript RandomDns(long at, ClusterPod client, bool ipv6)
    {
        ClusterService dns = Topology.Dns;
        Workload workload = Pick(Topology.Workloads.Where(w => w.Service is not null).ToList());
        string name = workload.DnsName;
        ClusterService service = workload.Service!;
        int roll = _rng.Next(100);
        DnsQueryPlan[] queries = roll switch
        {
            < 55 => new[]
            {
                new DnsQueryPlan(name, DnsType.A, 0, new[] { new DnsAnswer(name, DnsType.A, service.ClusterIp.Ipv4Address.ToString()) }),
                new DnsQueryPlan(name, DnsType.Aaaa, 0, new[] { new DnsAnswer(name, DnsType.Aaaa, service.ClusterIp.Ipv6Address!.ToString()) }),
            },
            < 75 => new[] { SearchPathQuery(client, service) },
            < 85 => new[] { ExternalCname() },
            < 92 => new[] { new DnsQueryPlan("_grpc._tcp." + name, DnsType.Srv, 0, new[] { new DnsAnswer("_grpc._tcp." + name, DnsType.Srv, name, (ushort)workload.ServicePort) }) },
            < 97 => new[] { new DnsQueryPlan($"{name}.{client.Workload.Namespace}.svc.cluster.local", DnsType.A, DnsMessageWriter.NxDomain, Array.Empty<DnsAnswer>()) },
            _ => new[] { new DnsQueryPlan("metrics.vendor.example", DnsType.A, 0, Array.Empty<DnsAnswer>(), Answered: false) },
        };
        return new DnsUdpScript(_context, at, client.Host, dns.ClusterIp, ipv6, Rtt(client, Pick(dns.Workload.Pods)), queries);
    }

    /// <summary>
    /// A short name expanded with the client's own namespace (resolv.conf search path): it resolves
    /// when the service lives there and is NXDOMAIN otherwise.
    /// </summary>
    private static DnsQueryPlan SearchPathQuery(ClusterPod client, ClusterService service)
    {
        string name = $"{service.Name}.{client.Workload.Namespace}.svc.cluster.local";
        return service.Namespace == client.Workload.Namespace
            ? new DnsQueryPlan(name, DnsType.A, 0, new[] { new DnsAnswer(name, DnsType.A, service.ClusterIp.Ipv4Address.ToString()) })
            : new DnsQueryPlan(name, DnsType.A, DnsMessageWriter.NxDomain, Array.Empty<DnsAnswer>());
    }

    private ConversationScript RandomTls(long at, ClusterPod client, bool ipv6)
    {
        Workload workload = _rng.Next(2) == 0 ? Find("auth") : Find("checkout");
        var target = Target(workload, true);
        int roll = _rng.Next(100);
        TlsOutcome outcome = roll < 70 ? TlsOutcome.Tls13 : roll < 98 ? TlsOutcome.Tls12 : TlsOutcome.HandshakeFailure;
        int[] sizes = Enumerable.Range(0, 1 + _rng.Next(4)).Select(_ => 300 + _rng.Next(30_000)).ToArray();
        return new TlsConversationScript(_context, at, client.Host, target.Host, target.Port, ipv6, Rtt(client, target.Backend),
            workload.DnsName, outcome, sizes);
    }
}
