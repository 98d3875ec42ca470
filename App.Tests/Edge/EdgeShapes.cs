using SessionGate.Tests.Gateway;

namespace SessionGate.Tests.Edge;

// What the services behind a real edge answer (the internal JWT's claims are the gateway's: see GatewayShapes).

/// <summary>GET /raw of service A: the Cookie and Authorization headers as they arrived, and every X-Internal-JWT header.</summary>
public sealed record EdgeRaw(string Cookie, string Authorization, string[] Jwt);

/// <summary>GET /call-b of the sample downstream: what A saw, and what B saw when A called it as the user.</summary>
public sealed record ChainEcho(DownstreamEcho A, DownstreamEcho B);
