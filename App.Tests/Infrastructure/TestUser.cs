namespace SessionGate.Tests.Infrastructure;

public sealed record TestUser(Guid Id, string Tenant, string Username, string Password);
