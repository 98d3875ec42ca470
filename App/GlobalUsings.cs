// What nearly every file of the app uses. SessionGate's own folders stay explicit (using lines), so the folder
// dependency test can read them; Infrastructure is the leaf every folder may use.
global using System.ComponentModel;
global using System.Security.Claims;
global using System.Text.Json;
global using Microsoft.AspNetCore.Http.HttpResults;
global using Microsoft.EntityFrameworkCore;
global using Microsoft.Extensions.Options;
global using SessionGate.Infrastructure;
