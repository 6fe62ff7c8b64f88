using k8s;
using k8s.Models;

namespace TrafficStore.Kubernetes.Watch;

/// <summary>One page of a list call: its items, the list's resourceVersion and the continue token.</summary>
internal readonly record struct ListPage<T>(IList<T> Items, string? ResourceVersion, string? Continue);

/// <summary>The list and watch calls of one resource kind, cluster-wide.</summary>
internal sealed record ResourceApi<T>(
    string Name,
    Func<string?, int, CancellationToken, Task<ListPage<T>>> ListPage,
    Func<string, int, Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> Watch)
    where T : IKubernetesObject<V1ObjectMeta>
{
    private static ListPage<T> Page<TList>(TList list) where TList : IItems<T>, IMetadata<V1ListMeta> =>
        new(list.Items ?? [], list.Metadata?.ResourceVersion, list.Metadata?.ContinueProperty);

    public static ResourceApi<V1Pod> Pods(IKubernetes client) => new("pods",
        async (cont, limit, ct) => ResourceApi<V1Pod>.Page(await client.CoreV1.ListPodForAllNamespacesAsync(
            continueParameter: cont, limit: limit, cancellationToken: ct).ConfigureAwait(false)),
        (rv, timeout, onError, ct) => client.CoreV1.WatchListPodForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));

    public static ResourceApi<V1Service> Services(IKubernetes client) => new("services",
        async (cont, limit, ct) => ResourceApi<V1Service>.Page(await client.CoreV1.ListServiceForAllNamespacesAsync(
            continueParameter: cont, limit: limit, cancellationToken: ct).ConfigureAwait(false)),
        (rv, timeout, onError, ct) => client.CoreV1.WatchListServiceForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));

    public static ResourceApi<V1EndpointSlice> EndpointSlices(IKubernetes client) => new("endpointslices",
        async (cont, limit, ct) => ResourceApi<V1EndpointSlice>.Page(await client.DiscoveryV1.ListEndpointSliceForAllNamespacesAsync(
            continueParameter: cont, limit: limit, cancellationToken: ct).ConfigureAwait(false)),
        (rv, timeout, onError, ct) => client.DiscoveryV1.WatchListEndpointSliceForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));

    public static ResourceApi<V1Node> Nodes(IKubernetes client) => new("nodes",
        async (cont, limit, ct) => ResourceApi<V1Node>.Page(await client.CoreV1.ListNodeAsync(
            continueParameter: cont, limit: limit, cancellationToken: ct).ConfigureAwait(false)),
        (rv, timeout, onError, ct) => client.CoreV1.WatchListNodeAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));

    public static ResourceApi<V1ReplicaSet> ReplicaSets(IKubernetes client) => new("replicasets",
        async (cont, limit, ct) => ResourceApi<V1ReplicaSet>.Page(await client.AppsV1.ListReplicaSetForAllNamespacesAsync(
            continueParameter: cont, limit: limit, cancellationToken: ct).ConfigureAwait(false)),
        (rv, timeout, onError, ct) => client.AppsV1.WatchListReplicaSetForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));

    public static ResourceApi<V1Job> Jobs(IKubernetes client) => new("jobs",
        async (cont, limit, ct) => ResourceApi<V1Job>.Page(await client.BatchV1.ListJobForAllNamespacesAsync(
            continueParameter: cont, limit: limit, cancellationToken: ct).ConfigureAwait(false)),
        (rv, timeout, onError, ct) => client.BatchV1.WatchListJobForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));
}
