// Parameters written with TypeBox and pi-ai's StringEnum, as upstream tools do; the host shims both modules.
import { Type, type Static } from "@sinclair/typebox";
import { StringEnum } from "@mariozechner/pi-ai";

const Params = Type.Object({
  city: Type.String({ description: "City name" }),
  unit: Type.Optional(StringEnum(["celsius", "fahrenheit"] as const)),
  days: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 })),
});

type WeatherParams = Static<typeof Params>;

export default (pi: { registerTool(tool: unknown): void }) => {
  pi.registerTool({
    name: "weather",
    label: "Weather",
    description: "Pretends to forecast the weather.",
    parameters: Params,
    async execute(_toolCallId: string, params: WeatherParams) {
      return { content: [{ type: "text", text: `Sunny in ${params.city} (${params.unit ?? "celsius"})` }] };
    },
  });
};
