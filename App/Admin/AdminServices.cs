using Microsoft.AspNetCore.Mvc;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Admin;

/// <summary>
/// What an /admin handler works with, bound as one <c>[AsParameters]</c> parameter (eShop's <c>CatalogServices</c>):
/// the request's <see cref="AdminContext"/> (caller, tenant, target user), the data, the audit log (its
/// <see cref="AuditContext"/> captured with the tenant), session changes and the clock. Also the <c>tenant</c>
/// query parameter, documented here; the tenancy filter reads it.
/// </summary>
public readonly record struct AdminServices(
    AdminContext Admin,
    [property: FromQuery(Name = "tenant"), Description("Platform admin only: the slug of the tenant to act in (default: your own). Ignored for anyone else.")]
    string? Tenant,
    AppDbContext Db,
    AuditLog Audit,
    SessionService Sessions,
    TimeProvider Time);
